/// A debugging hook for the divergence tests: `VAE_FAULT_INJECT` makes the trainer see a NaN at a chosen
/// batch, as a real divergence would, without depending on a learning rate that happens to blow up.
///
///     VAE_FAULT_INJECT=nan-loss:EPOCH:BATCH    the loss of that batch reads as NaN (before backward)
///     VAE_FAULT_INJECT=nan-param:EPOCH:BATCH   a parameter becomes NaN right after that batch's update
///
/// Epochs and batches count from 1. Unset or empty: no effect. Any other value is refused, so a typo does not
/// silently run an unfaulted test.
struct FaultInjection: Equatable {
    enum Kind: String { case nanLoss = "nan-loss", nanParameter = "nan-param" }

    static let variable = "VAE_FAULT_INJECT"

    var kind: Kind?
    var epoch = 0
    var batch = 0

    init(environment: [String: String]) throws {
        guard let value = environment[Self.variable], !value.isEmpty else { return }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let kind = Kind(rawValue: parts[0]), let epoch = Int(parts[1]), let batch = Int(parts[2]),
              epoch >= 1, batch >= 1 else {
            throw TrainingError.invalidSetting("\(Self.variable) must be nan-loss:EPOCH:BATCH or nan-param:EPOCH:BATCH, got '\(value)'")
        }
        self.kind = kind
        self.epoch = epoch
        self.batch = batch
    }

    func nanLoss(epoch: Int, batch: Int) -> Bool { kind == .nanLoss && epoch == self.epoch && batch == self.batch }
    func nanParameter(epoch: Int, batch: Int) -> Bool { kind == .nanParameter && epoch == self.epoch && batch == self.batch }
}
