import Foundation

/// A debugging hook for the divergence tests: `VAE_FAULT_INJECT` makes the trainer see a NaN at a chosen
/// batch, as a real divergence would, without depending on a learning rate that happens to blow up.
///
///     VAE_FAULT_INJECT=nan-loss:EPOCH:BATCH    the loss of that batch reads as NaN (before backward)
///     VAE_FAULT_INJECT=nan-param:EPOCH:BATCH   a parameter becomes NaN right after that batch's update
///     VAE_FAULT_INJECT=pause:EPOCH:BATCH       after that batch, create the file $VAE_FAULT_RELEASE.paused and wait
///                                              until $VAE_FAULT_RELEASE exists (the lock tests hold a run there)
///
/// Epochs and batches count from 1. Unset or empty: no effect. Any other value is refused, so a typo does not
/// silently run an unfaulted test.
struct FaultInjection: Equatable {
    enum Kind: String { case nanLoss = "nan-loss", nanParameter = "nan-param", pause }

    static let variable = "VAE_FAULT_INJECT"
    static let releaseVariable = "VAE_FAULT_RELEASE"

    var kind: Kind?
    var epoch = 0
    var batch = 0
    var release: String?

    init(environment: [String: String]) throws {
        guard let value = environment[Self.variable], !value.isEmpty else { return }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let kind = Kind(rawValue: parts[0]), let epoch = Int(parts[1]), let batch = Int(parts[2]),
              epoch >= 1, batch >= 1 else {
            throw TrainingError.invalidSetting("\(Self.variable) must be nan-loss:EPOCH:BATCH, nan-param:EPOCH:BATCH or pause:EPOCH:BATCH, got '\(value)'")
        }
        if kind == .pause {
            guard let release = environment[Self.releaseVariable], !release.isEmpty else {
                throw TrainingError.invalidSetting("\(Self.variable)=pause:... needs \(Self.releaseVariable)=PATH")
            }
            self.release = release
        }
        self.kind = kind
        self.epoch = epoch
        self.batch = batch
    }

    func nanLoss(epoch: Int, batch: Int) -> Bool { kind == .nanLoss && epoch == self.epoch && batch == self.batch }
    func nanParameter(epoch: Int, batch: Int) -> Bool { kind == .nanParameter && epoch == self.epoch && batch == self.batch }

    /// With `pause` at this batch: signals that it is paused and waits for the release file.
    func pauseIfAsked(epoch: Int, batch: Int) {
        guard kind == .pause, epoch == self.epoch, batch == self.batch, let release else { return }
        _ = FileManager.default.createFile(atPath: release + ".paused", contents: Data())
        while !FileManager.default.fileExists(atPath: release) { usleep(20_000) }
    }
}
