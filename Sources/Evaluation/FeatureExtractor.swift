import Foundation
import Models

/// The feature spaces FID, KID and precision/recall are measured in (`vae-eval --features`).
public enum FeatureNetworkKind: String, CaseIterable, Codable, Sendable {
    /// The shipped MNIST LeNet (`FeatureNetwork`), 128-d `fc1` features and a digit classifier: the default.
    case lenet
    /// pytorch-fid's Inception-v3 (`InceptionFeatureNetwork`), 2048-d pool3 features: FIDs comparable with papers'.
    case inception

    /// How reports name it.
    public var displayName: String { self == .lenet ? "LeNet" : "Inception" }

    /// The networks named by `arguments` (each a name or a comma list), in declaration order without repeats;
    /// `[.lenet]` when none is named.
    public static func parse(_ arguments: [String]) throws -> [FeatureNetworkKind] {
        let names = arguments.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        var kinds = Set<FeatureNetworkKind>()
        for name in names where !name.isEmpty {
            guard let kind = FeatureNetworkKind(rawValue: name) else {
                throw EvaluationError.invalidSetting("unknown feature network '\(name)' (known: "
                    + allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            kinds.insert(kind)
        }
        return kinds.isEmpty ? [.lenet] : allCases.filter(kinds.contains)
    }
}

/// A network that turns [count, 784] images (pixels in [0, 1]) into [count, dimension] features for FID, KID and
/// precision/recall, identified by the SHA-256 of its weight file (the key of every cached statistic).
public protocol FeatureExtractor {
    var kind: FeatureNetworkKind { get }
    var path: String { get }
    var sha256: String { get }
    var dimension: Int { get }
    /// The layer the features come from, as results.json records it.
    var layerName: String { get }
    /// Row-major [count, dimension] features and, for a network with a digit classifier, its class statistics.
    /// With a `stage` name, a slow network reports progress to standard error.
    func extract(_ images: [Float], count: Int, stage: String?) -> (features: [Float], classes: ClassStatistics?)
}

extension FeatureNetwork: FeatureExtractor {
    public var kind: FeatureNetworkKind { .lenet }
    public var layerName: String { layer.rawValue }

    public func extract(_ images: [Float], count: Int, stage: String?) -> (features: [Float], classes: ClassStatistics?) {
        let outputs = measure(images, count: count)
        return (outputs.features, ClassStatistics(outputs))
    }
}

extension InceptionFeatureNetwork: FeatureExtractor {
    public var kind: FeatureNetworkKind { .inception }
    /// pytorch-fid's block 3 (`InceptionV3.BLOCK_INDEX_BY_DIM[2048]`).
    public var layerName: String { "pool3" }

    public func extract(_ images: [Float], count: Int, stage: String?) -> (features: [Float], classes: ClassStatistics?) {
        (measure(images, count: count, stage: stage), nil)
    }
}
