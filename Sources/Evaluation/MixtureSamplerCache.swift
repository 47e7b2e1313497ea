import Autodiff
import Datasets
import Foundation
import Models
import Storage

/// How the gmm sampler's mixture is fitted; recorded in its cache file and in the evaluation settings.
public struct MixtureFitSettings: Codable, Equatable, Sendable {
    /// Mixture components K.
    public var components: Int
    /// At most this many EM iterations (M-steps).
    public var iterations: Int
    /// Stop when the mean log-likelihood per point changes by less than this (nats).
    public var tolerance: Double
    /// Seed of the k-means++ initialisation.
    public var seed: UInt64

    /// pythae's `GaussianMixtureSampler` defaults: 10 components, 100 iterations (sklearn's `max_iter`); the
    /// tolerance is ours (sklearn's 1e-3 is on the same per-point scale but stops much earlier).
    public init(components: Int = 10, iterations: Int = 100, tolerance: Double = 1e-6, seed: UInt64 = 0) {
        self.components = components; self.iterations = iterations; self.tolerance = tolerance; self.seed = seed
    }

    public func validate() throws {
        guard components >= 1, iterations >= 0, tolerance >= 0, tolerance.isFinite else {
            throw EvaluationError.invalidSetting("gmm sampler: components \(components) must be >= 1, iterations \(iterations) >= 0, tolerance \(tolerance) finite and >= 0")
        }
    }
}

/// The gmm sampler's cache file, `<run>/sampler-gmm.json`: the fitted mixture with what it was fitted from.
public struct MixtureSamplerFile: Codable, Equatable, Sendable {
    public static let format = "vae-toolkit-gmm-sampler"
    public static let fileName = "sampler-gmm.json"

    public var format: String
    /// SHA-256 of the checkpoint file whose encoder made the codes.
    public var checkpointSHA256: String
    /// `MNIST.checksumOfFiles` of the data folder the training images came from.
    public var dataChecksum: String
    public var settings: MixtureFitSettings
    /// Training images encoded.
    public var trainingImages: Int
    /// Wall seconds of the fit: encoding the training images plus EM (`encodeSeconds` of them encoding).
    public var fitSeconds: Double
    public var encodeSeconds: Double
    /// Mean log-likelihood per code (nats) of the initial mixture and after each M-step.
    public var logLikelihoods: [Double]
    public var mixture: GaussianMixture
}

/// Fits the gmm sampler's mixture or reuses the one cached next to the run.
///
/// The cache is reused only when its checkpoint SHA-256, data checksum and fit settings all equal the current
/// ones (and its mixture has the model's code dimension); otherwise, and when the file cannot be read or decoded,
/// the mixture is refitted (with a log line saying why) and the file rewritten atomically.
public enum MixtureSamplerCache {
    public static func path(in folder: RunFolder) -> String { folder.path + "/" + MixtureSamplerFile.fileName }

    /// The cached file if it matches, else nil and why it does not.
    public static func load(from path: String, checkpointSHA256: String, dataChecksum: String, settings: MixtureFitSettings,
                            dimension: Int) -> (file: MixtureSamplerFile?, reason: String) {
        guard FileManager.default.fileExists(atPath: path) else { return (nil, "no cached fit") }
        let file: MixtureSamplerFile
        do {
            file = try JSONDecoder().decode(MixtureSamplerFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            return (nil, "the cached fit \(path) is unreadable or corrupt (\(Self.summary(of: error)))")
        }
        if file.format != MixtureSamplerFile.format { return (nil, "the cached fit has format '\(file.format)'") }
        if file.checkpointSHA256 != checkpointSHA256 { return (nil, "the checkpoint changed since the cached fit") }
        if file.dataChecksum != dataChecksum { return (nil, "the data changed since the cached fit") }
        if file.settings != settings { return (nil, "the fit settings changed since the cached fit") }
        if file.mixture.dimension != dimension {
            return (nil, "the cached fit has dimension \(file.mixture.dimension), the model's codes \(dimension)")
        }
        return (file, "cached")
    }

    /// The cached or newly fitted mixture for `model` (whose checkpoint has `checkpointSHA256`), and whether it was
    /// reused. `trainingSet` is only called when fitting.
    public static func loadOrFit(model: any GenerativeModel, folder: RunFolder, checkpointSHA256: String,
                                 dataChecksum: String, settings: MixtureFitSettings,
                                 trainingSet: () throws -> MNISTSplit,
                                 log: (String) -> Void = { _ in }) throws -> (file: MixtureSamplerFile, reused: Bool) {
        try settings.validate()
        let path = self.path(in: folder)
        let (cached, reason) = load(from: path, checkpointSHA256: checkpointSHA256, dataChecksum: dataChecksum,
                                    settings: settings, dimension: model.configuration.latentSize)
        if let cached { return (cached, true) }
        log("gmm sampler: fitting (\(reason))")
        let training = try trainingSet()
        try RunEvaluation.checkTestSet(training, for: model, run: folder.name)
        guard training.count >= settings.components else {
            throw EvaluationError.invalidSetting("gmm sampler: \(training.count) training images cannot fit \(settings.components) components")
        }
        let start = Date()
        let (codes, dimension) = ExPostSampler.codes(model: model, images: training.imageTensor(first: training.count))
        let encodeSeconds = Date().timeIntervalSince(start)
        var generator = SeededGenerator(seed: settings.seed)
        let (mixture, logLikelihoods) = GaussianMixture.fit(points: codes, dimension: dimension, components: settings.components,
                                                            iterations: settings.iterations, tolerance: settings.tolerance,
                                                            generator: &generator)
        let file = MixtureSamplerFile(format: MixtureSamplerFile.format, checkpointSHA256: checkpointSHA256,
                                      dataChecksum: dataChecksum, settings: settings, trainingImages: training.count,
                                      fitSeconds: Date().timeIntervalSince(start), encodeSeconds: encodeSeconds,
                                      logLikelihoods: logLikelihoods, mixture: mixture)
        try AtomicFile.write(try StableJSON.encode(file), to: path)
        log(String(format: "gmm sampler: %d components on %d codes of dimension %d, %d EM iterations, log-likelihood %.4f nats per code, %.1f s (%.1f s encoding) -> %@",
                   settings.components, training.count, dimension, logLikelihoods.count - 1, logLikelihoods.last ?? .nan,
                   file.fitSeconds, encodeSeconds, path))
        return (file, false)
    }

    /// The gmm `PreparedSampler`: codes from the (cached) mixture, decoded.
    static func prepare(model: any GenerativeModel, context: SamplerContext) throws -> PreparedSampler {
        let (file, reused) = try loadOrFit(model: model, folder: context.folder, checkpointSHA256: context.checkpointSHA256,
                                           dataChecksum: context.dataChecksum, settings: context.mixtureFit,
                                           trainingSet: context.trainingSet, log: context.log)
        if reused { context.log("gmm sampler: cached fit (\(String(format: "%.1f", file.fitSeconds)) s when fitted)") }
        let mixture = file.mixture
        return PreparedSampler(kind: .gmm, fitSeconds: file.fitSeconds) { count, generator in
            ExPostSampler.sample(model: model, mixture: mixture, count: count, generator: &generator)
        }
    }

    static func summary(of error: Error) -> String {
        let text = "\(error)"
        let line = text.split(separator: "\n").first.map(String.init) ?? text
        return line.count > 160 ? String(line.prefix(160)) + "…" : line
    }
}
