import Autodiff
import Foundation
import Models

/// How the generation metrics are measured; recorded in results.json and part of the evaluation-cache key.
public struct GenerationSettings: Codable, Equatable, Sendable {
    /// Samples per draw (the study: 10,000, as many as reference images).
    public var samples: Int
    /// Independent sample draws the FID is averaged over.
    public var draws: Int
    /// Seed of the sample draws (draw i uses the i-th generator split off `SeededGenerator(seed)`).
    public var seed: UInt64
    /// KID: subsets and rows per subset (clamped to the smaller set's size).
    public var kidSubsets: Int
    public var kidSubsetSize: Int
    /// Precision/recall neighbourhood size.
    public var precisionRecallK: Int

    public init(samples: Int = 10_000, draws: Int = 3, seed: UInt64 = 0, kidSubsets: Int = 100,
                kidSubsetSize: Int = 1000, precisionRecallK: Int = 3) {
        self.samples = samples; self.draws = draws; self.seed = seed
        self.kidSubsets = kidSubsets; self.kidSubsetSize = kidSubsetSize; self.precisionRecallK = precisionRecallK
    }

    public func validate() throws {
        func require(_ ok: Bool, _ message: String) throws { if !ok { throw EvaluationError.invalidSetting(message) } }
        try require(samples >= 2, "--fid-samples must be >= 2, got \(samples)")
        try require(draws >= 1, "--fid-draws must be >= 1, got \(draws)")
        try require(kidSubsets >= 1, "--kid-subsets must be >= 1, got \(kidSubsets)")
        try require(kidSubsetSize >= 2, "--kid-subset-size must be >= 2, got \(kidSubsetSize)")
        try require(precisionRecallK >= 1 && samples > precisionRecallK,
                    "precision/recall needs more than k = \(precisionRecallK) samples, got \(samples)")
    }
}

/// FID over several sample draws.
public struct FIDSummary: Codable, Equatable, Sendable {
    /// Mean of `values`.
    public var mean: Double
    /// Sample standard deviation (n - 1) of `values`; 0 for one draw.
    public var standardDeviation: Double
    /// The FID of each draw, in draw order.
    public var values: [Double]

    public init(values: [Double]) {
        precondition(!values.isEmpty, "FIDSummary: no values")
        self.values = values
        mean = values.reduce(0, +) / Double(values.count)
        let m = mean
        standardDeviation = values.count < 2 ? 0
            : (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }
}

/// What the feature network's classifier head says about a set of images: a model that draws only one
/// digit class has a peaked histogram and a low entropy even if its FID looks moderate.
public struct ClassStatistics: Codable, Equatable, Sendable {
    /// Images predicted as each class 0...9.
    public var histogram: [Int]
    /// Entropy of the predicted-class distribution in nats (ln 10 = 2.303 for uniform classes, 0 for one class).
    public var entropy: Double
    /// Mean over images of the largest softmax probability (confidence that the image is some digit).
    public var meanMaxConfidence: Double
    public var count: Int

    /// From the classifier outputs of `count` images.
    public init(_ outputs: LeNet.Outputs) {
        var histogram = [Int](repeating: 0, count: LeNet.classes)
        for p in outputs.predictions { histogram[p] += 1 }
        let n = Double(max(outputs.count, 1))
        var entropy = 0.0
        for h in histogram where h > 0 { let p = Double(h) / n; entropy -= p * Foundation.log(p) }
        var confidence = 0.0
        for i in 0..<outputs.count {
            confidence += Double(outputs.probabilities[(i * LeNet.classes)..<((i + 1) * LeNet.classes)].max() ?? 0)
        }
        self.histogram = histogram
        self.entropy = entropy
        self.meanMaxConfidence = confidence / n
        self.count = outputs.count
    }
}

/// FID, KID, precision/recall and class statistics of one image set against the reference.
public struct ImageSetMetrics: Codable, Equatable, Sendable {
    public var count: Int
    public var fid: Double
    public var kid: KernelInceptionDistance
    public var precisionRecall: PrecisionRecall
    /// The LeNet classifier's view of the set; nil in a feature space without a digit classifier (Inception).
    public var classes: ClassStatistics?
}

/// The `generation` section of results.json.
public struct GenerationMetrics: Codable, Equatable, Sendable {
    public var settings: GenerationSettings
    /// SHA-256 of the feature-network file, its feature layer, and the reference set.
    public var featureNetworkSHA256: String
    public var featureLayer: String
    public var referenceCount: Int
    public var referenceDataChecksum: String
    /// FID per draw and mean +- std over draws.
    public var fid: FIDSummary
    /// KID (mean +- std over subsets), precision/recall and class statistics of the first draw (classes: LeNet
    /// only, nil for Inception features).
    public var kid: KernelInceptionDistance
    public var precisionRecall: PrecisionRecall
    public var classes: ClassStatistics?
    /// Wall time of sampling and all metrics.
    public var seconds: Double
}

/// Measures generated images against the reference features.
public enum GenerationEvaluation {
    /// All metrics of one image set ([count, 784], pixels in [0, 1]) against `reference`. KID subsets are
    /// drawn from `SeededGenerator(seed)`.
    public static func compare(_ images: [Float], count: Int, network: any FeatureExtractor, reference: ReferenceFeatures,
                               settings: GenerationSettings, stage: String? = nil) throws -> ImageSetMetrics {
        let outputs = network.extract(images, count: count, stage: stage)
        return try compare(features: outputs.features, classes: outputs.classes, network: network, reference: reference,
                           settings: settings, withSetMetrics: true).metrics!
    }

    /// FID of `features` ([n, network.dimension]), and when `withSetMetrics` also KID, precision/recall and `classes`.
    static func compare(features: [Float], classes: ClassStatistics?, network: any FeatureExtractor, reference: ReferenceFeatures,
                        settings: GenerationSettings, withSetMetrics: Bool) throws -> (fid: Double, metrics: ImageSetMetrics?) {
        let d = network.dimension
        let count = features.count / d
        precondition(count >= 2, "at least 2 images are needed for a covariance")
        let statistics = try FeatureStatistics(features: features, dimension: d)
        let fid = try FrechetDistance.compute(statistics, reference.statistics)
        guard withSetMetrics else { return (fid, nil) }
        var generator = SeededGenerator(seed: settings.seed &+ 0x4B1D)
        let subsetSize = min(settings.kidSubsetSize, count, reference.count)
        let kid = try KernelInceptionDistance.compute(real: reference.features, generated: features, dimension: d,
                                                      subsets: settings.kidSubsets, subsetSize: subsetSize,
                                                      generator: &generator)
        let pr = try PrecisionRecall.compute(real: reference.features, generated: features, dimension: d,
                                             k: settings.precisionRecallK,
                                             realSquaredRadii: reference.squaredRadii(k: settings.precisionRecallK))
        return (fid, ImageSetMetrics(count: count, fid: fid, kid: kid, precisionRecall: pr, classes: classes))
    }

    /// `count` samples of `model` from its prior, `batchSize` at a time, as one row-major [count, imageSize] array.
    public static func samples(of model: any GenerativeModel, count: Int, generator: inout SeededGenerator,
                               batchSize: Int = 500) -> [Float] {
        samples(count: count, generator: &generator, batchSize: batchSize) { model.sample(count: $0, generator: &$1) }
    }

    /// `count` images [count * imageSize] from `sampler`, drawn `batchSize` at a time.
    public static func samples(from sampler: PreparedSampler, count: Int, generator: inout SeededGenerator,
                               batchSize: Int = 500) -> [Float] {
        samples(count: count, generator: &generator, batchSize: batchSize) { sampler.sample(count: $0, generator: &$1) }
    }

    /// `count` images from `draw(size, &generator)`, called for `batchSize` at a time, as one row-major array.
    static func samples(count: Int, generator: inout SeededGenerator, batchSize: Int = 500,
                        draw: (Int, inout SeededGenerator) -> Tensor) -> [Float] {
        var values: [Float] = []
        var done = 0
        while done < count {
            let size = min(batchSize, count - done)
            values += draw(size, &generator).data
            done += size
        }
        return values
    }

    /// FID over `settings.draws` independent draws of `settings.samples` prior samples, and KID, precision/recall
    /// and class statistics of the first draw. `log` receives one line per draw.
    public static func evaluate(_ model: any GenerativeModel, network: any FeatureExtractor, reference: ReferenceFeatures,
                                settings: GenerationSettings, log: (String) -> Void = { _ in }) throws -> GenerationMetrics {
        try evaluate(model, sampler: .prior(of: model),
                     network: network, reference: reference, settings: settings, log: log)
    }

    /// As `evaluate(_:network:reference:settings:log:)`, with the images drawn by `sampler` (draw i uses the i-th
    /// generator split off `SeededGenerator(settings.seed)`, whatever the sampler).
    public static func evaluate(_ model: any GenerativeModel, sampler: PreparedSampler, network: any FeatureExtractor,
                                reference: ReferenceFeatures, settings: GenerationSettings,
                                log: (String) -> Void = { _ in }) throws -> GenerationMetrics {
        try settings.validate()
        guard model.configuration.imageSize == LeNet.imageSide * LeNet.imageSide else {
            throw EvaluationError.invalidSetting("FID needs 28x28 samples, the model makes \(model.configuration.imageSize) pixels")
        }
        let start = Date()
        var root = SeededGenerator(seed: settings.seed)
        var fids: [Double] = []
        var first: ImageSetMetrics?
        for draw in 0..<settings.draws {
            var generator = root.split()
            let images = samples(count: settings.samples, generator: &generator, draw: sampler.draw)
            let outputs = network.extract(images, count: settings.samples,
                                          stage: "\(network.kind.displayName) features of draw \(draw + 1)/\(settings.draws)")
            let (fid, metrics) = try compare(features: outputs.features, classes: outputs.classes, network: network,
                                             reference: reference, settings: settings, withSetMetrics: draw == 0)
            if let metrics { first = metrics }
            fids.append(fid)
            log(String(format: "%@FID draw %d/%d: %.4f (%.1f s)", network.kind == .lenet ? "" : network.kind.displayName + " ", draw + 1, settings.draws, fid, Date().timeIntervalSince(start)))
        }
        let metrics = first!
        return GenerationMetrics(settings: settings, featureNetworkSHA256: network.sha256, featureLayer: network.layerName,
                                 referenceCount: reference.count, referenceDataChecksum: reference.dataChecksum,
                                 fid: FIDSummary(values: fids), kid: metrics.kid, precisionRecall: metrics.precisionRecall,
                                 classes: metrics.classes, seconds: Date().timeIntervalSince(start))
    }
}
