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

    /// `test`, `train`, or a path.
    public init(argument: String) {
        switch argument {
        case "test": self = .test
        case "train": self = .train
        default: self = .images(argument)
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
    public var referenceCount: Int
    public var metrics: ImageSetMetrics
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

    /// FID, KID, precision/recall and class statistics of `set` against `reference`.
    ///
    /// Refuses a set below `minimumCount` (FID of 4 images against 10,000 is a number without meaning) and notes
    /// when the set is smaller than the reference: FID's estimator is biased upward by a term that grows like
    /// 1/N (Chong & Forsyth 2020, "Effectively Unbiased FID"), so FIDs compare only at equal N.
    public static func score(_ set: ImageSet, path: String, reference choice: ReferenceChoice, job: EvaluationJob,
                             cacheDirectory: String, seed: UInt64, kidSubsets: Int, kidSubsetSize: Int) throws -> ImageSetScore {
        let network = try job.featureNetwork()
        let settings = GenerationSettings(samples: set.count, draws: 1, seed: seed, kidSubsets: kidSubsets,
                                          kidSubsetSize: kidSubsetSize)
        let minimum = minimumCount(dimension: network.dimension, k: settings.precisionRecallK)
        guard set.count >= minimum else {
            throw EvaluationError.badImageSet(path: path, reason: "it holds \(set.count) images; at least \(minimum) are needed "
                + "(a full-rank covariance of the \(network.dimension) features, and k = \(settings.precisionRecallK) neighbours)")
        }
        try settings.validate()
        let (reference, name) = try referenceFeatures(choice, job: job, network: network, cacheDirectory: cacheDirectory)
        var notices = set.notices
        if set.count < reference.count {
            notices.append("notice: \(set.count) images against \(reference.count) reference images: FID's bias grows like 1/N, "
                + "so this FID reads higher than one of \(reference.count) images of the same model would; compare FIDs at equal N")
        }
        let metrics = try GenerationEvaluation.compare(set.images, count: set.count, network: network, reference: reference,
                                                       settings: settings)
        return ImageSetScore(images: path, format: set.format, reference: name, referenceCount: reference.count,
                             metrics: metrics, featureNetworkPath: network.path, featureNetworkSHA256: network.sha256,
                             featureLayer: network.layer.rawValue, notices: notices)
    }

    static func referenceFeatures(_ choice: ReferenceChoice, job: EvaluationJob, network: FeatureNetwork,
                                  cacheDirectory: String) throws -> (ReferenceFeatures, String) {
        switch choice {
        case .test:
            return (try job.reference(cacheDirectory: cacheDirectory), "MNIST test set")
        case .train:
            return (try job.trainingReference(cacheDirectory: cacheDirectory), "MNIST training set")
        case .images(let path):
            let set = try ImageSetFile.load(path)
            let outputs = network.measure(set.images, count: set.count)
            let features = try ReferenceFeatures(features: outputs.features, dimension: network.dimension,
                                                 networkSHA256: network.sha256, dataChecksum: "")
            return (features, path)
        }
    }

    /// The lines `vae-eval fid --images` prints.
    public static func lines(_ score: ImageSetScore) -> [String] {
        let m = score.metrics
        let kid = m.kid.subsets == 1 ? String(format: "%.6f", m.kid.mean)
                                     : String(format: "%.6f ± %.6f", m.kid.mean, m.kid.standardDeviation)
        return [
            "images    \(score.images) (\(score.format), \(m.count.counted("image"))) vs \(score.referenceCount.counted("image")) of the \(score.reference)",
            String(format: "FID       %.4f", m.fid),
            "KID       \(kid) (\(m.kid.subsets.counted("subset")) of \(m.kid.subsetSize))",
            String(format: "precision %.4f  recall %.4f (k = %d)", m.precisionRecall.precision, m.precisionRecall.recall, m.precisionRecall.k),
            String(format: "classes   entropy %.3f nats, mean max confidence %.3f; histogram ", m.classes.entropy,
                   m.classes.meanMaxConfidence) + m.classes.histogram.map(String.init).joined(separator: " "),
            "network   \(score.featureNetworkPath) (sha256 \(score.featureNetworkSHA256.prefix(12)), \(score.featureLayer))",
        ]
    }
}
