import Autodiff
import Datasets
import Foundation
import Imaging
import Models
import Storage

/// Everything `vae-eval` measured for one run; written as `results.json` next to the checkpoint.
public struct EvaluationResults: Codable, Equatable, Sendable {
    public var run: String
    public var modelKind: String
    public var checkpointSHA256: String
    public var parameterCount: Int
    public var trainingEpochs: Int
    public var trainingSeconds: Double
    public var reconstruction: ReconstructionMetrics
    public var evaluationSeed: UInt64
    public var samplesImage: String
}

/// Where a run lives on disk: `<folder>/checkpoint.safetensors`, `results.json`, `samples.png`, `train-log.jsonl`.
public struct RunFolder: Sendable {
    public let path: String

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
    public var checkpoint: String { path + "/checkpoint.safetensors" }
    public var results: String { path + "/results.json" }
    public var samples: String { path + "/samples.png" }
    public var trainingLog: String { path + "/train-log.jsonl" }
}

/// Errors of the evaluator, one line each.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case missingCheckpoint(String)

    public var description: String {
        switch self {
        case .missingCheckpoint(let path):
            return "no checkpoint at \(path) (give a run folder made by vae-train, or the checkpoint file itself)"
        }
    }
}

/// Evaluates a run from its checkpoint alone: test MSE, negative ELBO, and an 8 x 8 grid of prior samples.
public enum RunEvaluation {
    public static func evaluate(_ folder: RunFolder, testSet: MNISTSplit, seed: UInt64 = 0,
                                gridSize: Int = 8, scale: Int = 1) throws -> EvaluationResults {
        guard FileManager.default.fileExists(atPath: folder.checkpoint) else {
            throw EvaluationError.missingCheckpoint(folder.checkpoint)
        }
        let checkpoint = try Checkpoint.read(from: folder.checkpoint)
        let model = checkpoint.model
        try checkTestSet(testSet, for: model, run: checkpoint.training.runName)
        var generator = SeededGenerator(seed: seed)
        let metrics = ReconstructionMetrics.measure(model, on: testSet, generator: &generator)
        var sampleGenerator = SeededGenerator(seed: seed &+ 1)
        let samples = model.sample(count: gridSize * gridSize, generator: &sampleGenerator)
        let side = Int(Double(model.configuration.imageSize).squareRoot())
        let grid = ImageGrid(rows: gridSize, columns: gridSize, tileWidth: side, tileHeight: side, scale: scale)
        try PNGFile.write(grid.render(tiles: samples.data), to: folder.samples)
        let fileBytes = try Data(contentsOf: URL(fileURLWithPath: folder.checkpoint))
        let results = EvaluationResults(
            run: checkpoint.training.runName, modelKind: model.configuration.kind.rawValue,
            checkpointSHA256: SHA256.hexDigest(of: fileBytes), parameterCount: model.parameterCount,
            trainingEpochs: checkpoint.training.completedEpochs, trainingSeconds: checkpoint.training.wallSeconds,
            reconstruction: metrics, evaluationSeed: seed, samplesImage: "samples.png")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(results), to: folder.results)
        return results
    }
}
