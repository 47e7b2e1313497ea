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
    /// Everything besides the checkpoint that the figures depend on; with `checkpointSHA256` the key of
    /// the evaluation cache. Nil in results written before it existed (never reused).
    public var settings: EvaluationSettings?
    /// FID (mean +- std over draws), KID, precision/recall and class statistics of samples; nil when skipped.
    public var generation: GenerationMetrics?
    /// The model's own figures on the test set (`GenerativeModel.diagnostics(images:labels:)`).
    public var diagnostics: [String: Double]?
}

/// The settings of one evaluation (see `EvaluationResults.settings`).
public struct EvaluationSettings: Codable, Equatable, Sendable {
    public var seed: UInt64
    public var gridSize: Int
    public var scale: Int
    /// `MNIST.checksumOfFiles` of the data folder.
    public var dataChecksum: String
    /// Nil when the generation metrics are not computed.
    public var generation: GenerationSettings?
    /// SHA-256 of the feature-network file (nil without generation metrics).
    public var featureNetworkSHA256: String?

    public init(seed: UInt64, gridSize: Int = 8, scale: Int = 1, dataChecksum: String,
                generation: GenerationSettings? = nil, featureNetworkSHA256: String? = nil) {
        self.seed = seed; self.gridSize = gridSize; self.scale = scale; self.dataChecksum = dataChecksum
        self.generation = generation; self.featureNetworkSHA256 = featureNetworkSHA256
    }
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
    case invalidSetting(String)
    case badImageSet(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidSetting(let message):
            return "invalid evaluation setting: \(message)"
        case let .badImageSet(path, reason):
            return "cannot use \(path) as an image set: \(reason)"
        case .missingCheckpoint(let path):
            return "no checkpoint at \(path) (give a run folder made by vae-train, or the checkpoint file itself)"
        }
    }
}

/// Evaluates a run from its checkpoint alone: test MSE, negative ELBO, model diagnostics, an 8 x 8 grid of
/// prior samples and, given a feature network, the generation metrics (FID, KID, precision/recall, classes).
///
/// Caching: results.json records the checkpoint's SHA-256 and the `EvaluationSettings`; when both match
/// the current ones (and samples.png exists) the stored results are returned unchanged without
/// recomputing anything, unless `force` is set.
public enum RunEvaluation {
    /// Evaluates without generation metrics, always recomputing (the original entry point).
    public static func evaluate(_ folder: RunFolder, testSet: MNISTSplit, seed: UInt64 = 0,
                                gridSize: Int = 8, scale: Int = 1) throws -> EvaluationResults {
        try evaluate(folder, testSet: { testSet },
                     settings: EvaluationSettings(seed: seed, gridSize: gridSize, scale: scale, dataChecksum: "unknown"),
                     force: true).results
    }

    /// The folder for cached reference features of runs in `folder`: `<root>/cache` when the run sits in
    /// `<root>/runs/<run>` (vae-train's layout, so out/cache), else `cache` beside the run folder.
    public static func defaultCacheDirectory(for folder: RunFolder) -> String {
        let parent = URL(fileURLWithPath: folder.path).standardizedFileURL.deletingLastPathComponent()
        let root = parent.lastPathComponent == "runs" ? parent.deletingLastPathComponent() : parent
        return root.appendingPathComponent("cache").path
    }

    /// The stored results of `folder` if they were computed from this checkpoint with these settings.
    public static func cachedResults(_ folder: RunFolder, checkpointSHA256: String,
                                     settings: EvaluationSettings) -> EvaluationResults? {
        guard let data = FileManager.default.contents(atPath: folder.results),
              let stored = try? JSONDecoder().decode(EvaluationResults.self, from: data),
              stored.checkpointSHA256 == checkpointSHA256, stored.settings == settings,
              (settings.generation == nil) == (stored.generation == nil),
              FileManager.default.fileExists(atPath: folder.samples)
        else { return nil }
        return stored
    }

    /// Evaluates `folder` with `settings` (`featureNetwork` and `reference` are needed when
    /// `settings.generation` is set). Returns the results and whether they were reused from results.json.
    /// `testSet` and `reference` are only called when something is recomputed.
    public static func evaluate(_ folder: RunFolder, testSet loadTestSet: () throws -> MNISTSplit, settings: EvaluationSettings,
                                featureNetwork: FeatureNetwork? = nil, reference: (() throws -> ReferenceFeatures)? = nil,
                                force: Bool = false, log: (String) -> Void = { _ in })
        throws -> (results: EvaluationResults, reused: Bool) {
        guard FileManager.default.fileExists(atPath: folder.checkpoint) else {
            throw EvaluationError.missingCheckpoint(folder.checkpoint)
        }
        let fileBytes = try SafeTensorsArchive.readFile(folder.checkpoint)
        let checkpointSHA256 = SHA256.hexDigest(of: fileBytes)
        if !force, let stored = cachedResults(folder, checkpointSHA256: checkpointSHA256, settings: settings) {
            return (stored, true)
        }
        let checkpoint = try Checkpoint.read(from: folder.checkpoint)
        if let generation = settings.generation { try generation.validate() }
        let testSet = try loadTestSet()
        let model = checkpoint.model
        try checkTestSet(testSet, for: model, run: checkpoint.training.runName)
        let seed = settings.seed, gridSize = settings.gridSize
        var generator = SeededGenerator(seed: seed)
        let metrics = ReconstructionMetrics.measure(model, on: testSet, generator: &generator)
        var sampleGenerator = SeededGenerator(seed: seed &+ 1)
        let samples = model.sample(count: gridSize * gridSize, generator: &sampleGenerator)
        let side = Int(Double(model.configuration.imageSize).squareRoot())
        let grid = ImageGrid(rows: gridSize, columns: gridSize, tileWidth: side, tileHeight: side, scale: settings.scale)
        try PNGFile.write(grid.render(tiles: samples.data), to: folder.samples)
        let testImages = Tensor(shape: [testSet.count, testSet.pixelsPerImage], data: testSet.images)
        let diagnostics = model.diagnostics(images: testImages, labels: testSet.labels)
        var generation: GenerationMetrics?
        if let generationSettings = settings.generation {
            guard let featureNetwork, let reference else {
                preconditionFailure("RunEvaluation.evaluate: generation metrics need a feature network and reference features")
            }
            generation = try GenerationEvaluation.evaluate(model, network: featureNetwork, reference: try reference(),
                                                           settings: generationSettings, log: log)
        }
        let results = EvaluationResults(
            run: checkpoint.training.runName, modelKind: model.configuration.kind.rawValue,
            checkpointSHA256: checkpointSHA256, parameterCount: model.parameterCount,
            trainingEpochs: checkpoint.training.completedEpochs, trainingSeconds: checkpoint.training.wallSeconds,
            reconstruction: metrics, evaluationSeed: seed, samplesImage: "samples.png",
            settings: settings, generation: generation, diagnostics: diagnostics)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(results), to: folder.results)
        return (results, false)
    }
}
