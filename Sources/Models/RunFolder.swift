import Foundation

/// Where a run lives on disk: `<folder>/checkpoint.safetensors`, `results.json`, `samples.png`, `train-log.jsonl`,
/// and the code prior. The one place these names are written.
public struct RunFolder: Sendable {
    public let path: String

    /// The checkpoint's file name in a run folder.
    public static let checkpointFileName = "checkpoint.safetensors"
    /// The evaluation results' file name in a run folder.
    public static let resultsFileName = "results.json"
    /// The training log's file name in a run folder.
    public static let trainingLogFileName = "train-log.jsonl"

    public init(path: String) { self.path = path }

    /// Accepts either a run folder or the path of its checkpoint file.
    public init(runOrCheckpoint argument: String) {
        if argument.hasSuffix(".safetensors") {
            path = URL(fileURLWithPath: argument).deletingLastPathComponent().path
        } else {
            path = argument
        }
    }

    public var name: String { URL(fileURLWithPath: path).lastPathComponent }
    public var checkpoint: String { path + "/" + Self.checkpointFileName }
    public var results: String { path + "/" + Self.resultsFileName }
    public var samples: String { path + "/samples.png" }
    public var trainingLog: String { path + "/" + Self.trainingLogFileName }
    /// vq_vae's learned code prior (`vae-train prior`), used by the learned sampler.
    public var codePrior: String { path + "/" + CodePrior.fileName }
}
