import Foundation

/// The knobs of one training run. Defaults are the study protocol: batch 256, Adam lr 1e-3, 10 epochs.
public struct TrainingSettings: Codable, Equatable, Sendable {
    public var epochs: Int = 10
    public var batchSize: Int = 256
    public var learningRate: Double = 1e-3
    public var seed: UInt64 = 1
    /// Worker threads for BLAS products and element-wise loops. Any count gives the same checkpoint for a seed;
    /// the count is recorded in the checkpoint only as a fact about the run.
    public var threads: Int = 2
    /// Keep a copy of the checkpoint every N epochs as `RUN/snapshots/epoch-NNN/checkpoint.safetensors` (nil: none),
    /// for metrics against epochs (`TrainingJob.snapshotFolder`). Does not change the training's bits.
    public var checkpointEvery: Int? = nil

    public init(epochs: Int = 10, batchSize: Int = 256, learningRate: Double = 1e-3, seed: UInt64 = 1, threads: Int = 2) {
        self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate
        self.seed = seed; self.threads = threads
    }

    /// Rejects impossible values with a message naming the setting.
    public func validate() throws {
        if epochs < 1 { throw TrainingError.invalidSetting("epochs must be >= 1, got \(epochs)") }
        if batchSize < 1 { throw TrainingError.invalidSetting("batch size must be >= 1, got \(batchSize)") }
        if !(learningRate > 0) || !learningRate.isFinite {
            throw TrainingError.invalidSetting("learning rate must be a positive number, got \(learningRate)")
        }
        if threads < 1 { throw TrainingError.invalidSetting("threads must be >= 1, got \(threads)") }
        if let every = checkpointEvery, every < 1 {
            throw TrainingError.invalidSetting("checkpointEvery must be >= 1 epoch, got \(every)")
        }
    }
}

/// Errors that stop a training run, one line each.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case invalidSetting(String)
    /// The data cannot train this model (wrong image size, no images).
    case unusableData(String)
    case diverged(run: String, epoch: Int, batch: Int, what: String)
    case checkpointMismatch(path: String, reason: String)
    /// A new training would replace the checkpoint of an earlier one.
    case wouldReplace(path: String, finished: Bool?)
    /// The training diverged before writing any checkpoint; `note` is the file that says so, if one was left.
    case divergedBeforeCheckpoint(run: String, epoch: Int, batch: Int, what: String, note: String?)

    public var description: String {
        switch self {
        case .invalidSetting(let message):
            return "invalid training setting: \(message)"
        case .unusableData(let message):
            return "cannot train on this data: \(message) (check --data)"
        case let .diverged(run, epoch, batch, what):
            return "training of \(run) diverged at epoch \(epoch), batch \(batch): \(what); the last good checkpoint is kept (try a lower learning rate)"
        case let .checkpointMismatch(path, reason):
            return "cannot resume from \(path): \(reason)"
        case let .wouldReplace(path, finished):
            let what = finished.map { $0 ? "a finished run" : "an unfinished run" } ?? "a checkpoint"
            return "\(path) already holds \(what); pass --resume to continue it"
                + " or --force to replace it (--force deletes it with its results, sample sheets, sampler caches and code prior)"
        case let .divergedBeforeCheckpoint(run, epoch, batch, what, note):
            return "training of \(run) diverged at epoch \(epoch), batch \(batch): \(what); it wrote no checkpoint, "
                + (note.map { "only \($0) is left" } ?? "its run folder is removed") + " (try a lower learning rate)"
        }
    }
}
