import Datasets
import Foundation
import Storage

/// What `vae-eval fid --images` compares an image set with.
public enum ReferenceChoice: Equatable, Sendable {
    /// The MNIST test set (10,000 images), the study's reference; features cached.
    case test
    /// The MNIST training set (60,000 images); features cached.
    case train
    /// Another image set file (any format `ImageSetFile.load` reads); features computed each time.
    case images(String)
    /// Precomputed statistics: pytorch-fid's `.npz` with `mu` and `sigma` (`FIDStatisticsFile`); FID only.
    case statistics(String)

    /// `test`, `train`, a statistics `.npz` (one with `mu` and `sigma`), or an image set's path.
    public init(argument: String) {
        switch argument {
        case "test": self = .test
        case "train": self = .train
        default: self = FIDStatisticsFile.isStatistics(argument) ? .statistics(argument) : .images(argument)
        }
    }
}

/// The scores of an outside image set against a reference set, in the feature space of one network:
/// what `vae-eval fid --images` prints, and writes with `--json`.
public struct ImageSetScore: Codable, Equatable, Sendable {
    public var images: String
    /// How the file was read, e.g. "npy float32 (500, 1, 28, 28)".
    public var format: String
    public var reference: String
    /// Images behind the reference statistics; nil for a statistics file (it does not say).
    public var referenceCount: Int?
    public var fid: Double
    /// KID, precision/recall and class statistics; nil against a statistics file (they need the reference features).
    public var metrics: ImageSetMetrics?
    public var featureNetworkPath: String
    public var featureNetworkSHA256: String
    public var featureLayer: String
    /// Conversions made while reading (e.g. RGB to luminance) and caveats on the numbers (e.g. a small set).
    public var notices: [String]
}

/// Scores image sets from outside the toolkit on the scale of the study's FID (`vae-eval fid --images`).
public enum ImageSetScoring {
    /// The fewest images whose statistics are well defined: a full-rank covariance of `dimension` features needs
    /// `dimension + 1` images, and precision/recall's k-NN radii need `k + 1`.
    public static func minimumCount(dimension: Int, k: Int) -> Int { max(dimension + 1, k + 1) }

    /// FID, KID, precision/recall and class statistics of `set` against `reference`, in `kind`'s feature space.
    ///
    /// Refuses a set below `minimumCount` (FID of 4 images against 10,000 is a number without meaning) and notes
    /// when the set is smaller than the reference: FID's estimator is biased upward by a term that grows like
    /// 1/N (Chong & Forsyth 2020, "Effectively Unbiased FID"), so FIDs compare only at equal N.
    public static func score(_ set: ImageSet, path imagesPath: String, reference choice: ReferenceChoice, job: EvaluationJob,
                             cacheDirectory: String, seed: UInt64, kidSubsets: Int, kidSubsetSize: Int,
                             network kind: FeatureNetworkKind = .lenet) throws -> ImageSetScore {
        let network = try job.featureExtractor(kind)
        let stage = "\(kind.displayName) features of \(imagesPath)"
        let settings = GenerationSettings(samples: set.count, draws: 1, seed: seed, kidSubsets: kidSubsets,
                                          kidSubsetSize: kidSubsetSize)
        let minimum = minimumCount(dimension: network.dimension, k: settings.precisionRecallK)
        guard set.count >= minimum else {
            throw EvaluationError.badImageSet(path: imagesPath, reason: "it holds \(set.count) images; at least \(minimum) are needed "
                + "(a full-rank covariance of the \(network.dimension) features, and k = \(settings.precisionRecallK) neighbours)")
        }
        try settings.validate()
        var notices = set.notices
        if case .statistics(let path) = choice {
            let statistics = try FIDStatisticsFile.read(path)
            guard statistics.dimension == network.dimension else {
                throw EvaluationError.invalidSetting("\(path) holds \(statistics.dimension)-d statistics; the feature network "
                    + "gives \(network.dimension)-d features (\(network.layerName)): compute both with the same network")
            }
            let own = try FeatureStatistics(features: network.extract(set.images, count: set.count, stage: stage).features,
                                            dimension: network.dimension)
            notices.append("notice: against precomputed statistics only the FID is computed (KID and precision/recall need the reference features)")
            return ImageSetScore(images: imagesPath, format: set.format, reference: path, referenceCount: nil,
                                 fid: try FrechetDistance.compute(own, statistics), metrics: nil, featureNetworkPath: network.path,
                                 featureNetworkSHA256: network.sha256, featureLayer: network.layerName, notices: notices)
        }
        let (reference, name) = try referenceFeatures(choice, job: job, network: network, cacheDirectory: cacheDirectory)
        if set.count < reference.count {
            notices.append("notice: \(set.count) images against \(reference.count) reference images: FID's bias grows like 1/N, "
                + "so this FID reads higher than one of \(reference.count) images of the same model would; compare FIDs at equal N")
        }
        let metrics = try GenerationEvaluation.compare(set.images, count: set.count, network: network, reference: reference,
                                                       settings: settings, stage: stage)
        return ImageSetScore(images: imagesPath, format: set.format, reference: name, referenceCount: reference.count,
                             fid: metrics.fid, metrics: metrics, featureNetworkPath: network.path,
                             featureNetworkSHA256: network.sha256, featureLayer: network.layerName, notices: notices)
    }

    static func referenceFeatures(_ choice: ReferenceChoice, job: EvaluationJob, network: any FeatureExtractor,
                                  cacheDirectory: String) throws -> (ReferenceFeatures, String) {
        switch choice {
        case .test:
            return (try job.reference(cacheDirectory: cacheDirectory, network: network.kind), "MNIST test set")
        case .train:
            return (try job.trainingReference(cacheDirectory: cacheDirectory, network: network.kind), "MNIST training set")
        case .statistics:
            preconditionFailure("referenceFeatures: statistics files have no features")
        case .images(let path):
            let set = try ImageSetFile.load(path)
            let outputs = network.extract(set.images, count: set.count, stage: "\(network.kind.displayName) features of \(path)")
            let features = try ReferenceFeatures(features: outputs.features, dimension: network.dimension,
                                                 networkSHA256: network.sha256, dataChecksum: "")
            return (features, path)
        }
    }

    /// The lines `vae-eval fid --images` prints.
    public static func lines(_ score: ImageSetScore) -> [String] {
        let against = score.referenceCount.map { "\($0.counted("image")) of the \(score.reference)" } ?? "the statistics in \(score.reference)"
        var lines = [
            "images    \(score.images) (\(score.format)) vs \(against)",
            String(format: "FID       %.4f", score.fid),
        ]
        if let m = score.metrics {
            let kid = m.kid.subsets == 1 ? String(format: "%.6f", m.kid.mean)
                                         : String(format: "%.6f ± %.6f", m.kid.mean, m.kid.standardDeviation)
            lines += [
                "KID       \(kid) (\(m.kid.subsets.counted("subset")) of \(m.kid.subsetSize))",
                String(format: "precision %.4f  recall %.4f (k = %d)", m.precisionRecall.precision, m.precisionRecall.recall, m.precisionRecall.k),
            ]
            if let classes = m.classes {
                lines.append(String(format: "classes   entropy %.3f nats, mean max confidence %.3f; histogram ", classes.entropy,
                                    classes.meanMaxConfidence) + classes.histogram.map(String.init).joined(separator: " "))
            }
        }
        lines.append("network   \(score.featureNetworkPath) (sha256 \(score.featureNetworkSHA256.prefix(12)), \(score.featureLayer))")
        return lines
    }
}

/// pytorch-fid's statistics files (`--save-stats`): an `.npz` with `mu` [d] and `sigma` [d, d], float64, as its
/// `save_fid_stats` writes them; `calculate_frechet_distance` reads the same two arrays.
public enum FIDStatisticsFile {
    /// Whether `path` is an `.npz` holding `mu` and `sigma` (and nothing else).
    public static func isStatistics(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard ZipArchive.hasMagic([UInt8](handle.readData(ofLength: 4))), let arrays = try? NPZ.read(contentsOf: path) else { return false }
        return Set(arrays.keys) == ["mu", "sigma"]
    }

    /// The statistics in `path`. `count` is unknown to the file and set to 2 (FID does not use it).
    public static func read(_ path: String) throws -> FeatureStatistics {
        let arrays = try NPZ.read(contentsOf: path)
        func values(_ name: String) throws -> (shape: [Int], values: [Double]) {
            guard let array = arrays[name] else { throw EvaluationError.badImageSet(path: path, reason: "no '\(name)' array: not FID statistics") }
            switch array.elements {
            case .float64(let v): return (array.shape, v)
            case .float32(let v): return (array.shape, v.map(Double.init))
            case .uint8: throw EvaluationError.badImageSet(path: path, reason: "'\(name)' holds bytes, not floats")
            }
        }
        let mu = try values("mu"), sigma = try values("sigma")
        let d = mu.values.count
        guard mu.shape == [d], d >= 1, sigma.shape == [d, d] else {
            throw EvaluationError.badImageSet(path: path, reason: "mu \(mu.shape) and sigma \(sigma.shape) are not [d] and [d, d]")
        }
        guard (mu.values + sigma.values).allSatisfy(\.isFinite) else {
            throw EvaluationError.badImageSet(path: path, reason: "mu or sigma holds a NaN or an infinity")
        }
        return FeatureStatistics(mean: mu.values, covariance: sigma.values, dimension: d, count: 2)
    }

    /// Writes `statistics` as `mu` and `sigma` (float64), atomically.
    public static func write(_ statistics: FeatureStatistics, to path: String) throws {
        let d = statistics.dimension
        try NPZ.write(["mu": NPYArray(shape: [d], elements: .float64(statistics.mean)),
                       "sigma": NPYArray(shape: [d, d], elements: .float64(statistics.covariance))], to: path)
    }
}
