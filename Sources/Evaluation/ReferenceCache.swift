import Foundation
import Storage

/// The feature-network features of the reference set (the MNIST test images) and their Gaussian
/// statistics, with the identities of the network and data they were computed from.
public struct ReferenceFeatures {
    /// Row-major [count, dimension] features (KID and precision/recall need the vectors themselves).
    public let features: [Float]
    public let dimension: Int
    public let statistics: FeatureStatistics
    /// SHA-256 of the feature-network file.
    public let networkSHA256: String
    /// `MNIST.checksumOfFiles` of the data folder the reference images came from.
    public let dataChecksum: String

    public var count: Int { features.count / dimension }

    /// The k-NN radii of the features for precision/recall (`PrecisionRecall.squaredRadii`), computed on first use
    /// for each k and then shared by every sampler and run compared against this reference.
    public func squaredRadii(k: Int) -> [Double] {
        radii.value(k: k) { PrecisionRecall.squaredRadii(of: features, dimension: dimension, k: k) }
    }
    private let radii = RadiiCache()

    /// Wraps features and computes their statistics.
    public init(features: [Float], dimension: Int, networkSHA256: String, dataChecksum: String) throws {
        self.features = features
        self.dimension = dimension
        self.statistics = try FeatureStatistics(features: features, dimension: dimension)
        self.networkSHA256 = networkSHA256
        self.dataChecksum = dataChecksum
    }

    init(features: [Float], dimension: Int, statistics: FeatureStatistics, networkSHA256: String, dataChecksum: String) {
        self.features = features; self.dimension = dimension; self.statistics = statistics
        self.networkSHA256 = networkSHA256; self.dataChecksum = dataChecksum
    }
}

/// Radii by k, filled on first use (a class, so that copies of a `ReferenceFeatures` share it; locked, so that
/// concurrent evaluations may use it).
private final class RadiiCache: @unchecked Sendable {
    // Sendable: `byK` is read and written only while holding `lock`.
    private let lock = NSLock()
    private var byK: [Int: [Double]] = [:]

    func value(k: Int, compute: () -> [Double]) -> [Double] {
        lock.lock(); defer { lock.unlock() }
        if let cached = byK[k] { return cached }
        let computed = compute()
        byK[k] = computed
        return computed
    }
}

/// A folder of cached reference features, one safetensors file per (feature network, data) pair:
/// `reference-<network SHA-256, 16 hex>-<data checksum, 16 hex>.safetensors` holding `features` (F32
/// [n, d]), `mean` (F64 [d]) and `covariance` (F64 [d, d]), with the full network SHA-256 and data
/// checksum in its metadata. A lookup hits only when both full values match, so a retrained network or
/// changed data misses (and a stale file simply stays unused); an unreadable or damaged file also misses.
///
/// Safetensors rather than JSON: KID and precision/recall need the 10,000 x 128 feature vectors, not only
/// mu and Sigma, and binary keeps them exact and ~5 MB.
public enum ReferenceCache {
    public static let format = "vae-toolkit-reference-features"

    public static func fileName(networkSHA256: String, dataChecksum: String) -> String {
        "reference-\(networkSHA256.prefix(16))-\(dataChecksum.prefix(16)).safetensors"
    }

    /// The cached features for this network and data, or nil (a miss).
    public static func load(directory: String, networkSHA256: String, dataChecksum: String) -> ReferenceFeatures? {
        let path = directory + "/" + fileName(networkSHA256: networkSHA256, dataChecksum: dataChecksum)
        guard FileManager.default.fileExists(atPath: path),
              let archive = try? SafeTensorsArchive(contentsOf: path),
              archive.metadata["format"] == format,
              archive.metadata["network_sha256"] == networkSHA256,
              archive.metadata["data_checksum"] == dataChecksum,
              archive.metadata["tensor_sha256"] == archive.tensorDataDigest(),
              let shape = try? archive.shape(of: "features"), shape.count == 2, shape[0] >= 2, shape[1] >= 1,
              let features = try? archive.floats("features"),
              let mean = try? archive.doubles("mean"), mean.count == shape[1],
              let covariance = try? archive.doubles("covariance"), covariance.count == shape[1] * shape[1]
        else { return nil }
        let statistics = FeatureStatistics(mean: mean, covariance: covariance, dimension: shape[1], count: shape[0])
        return ReferenceFeatures(features: features, dimension: shape[1], statistics: statistics,
                                 networkSHA256: networkSHA256, dataChecksum: dataChecksum)
    }

    /// Stores `reference` in `directory` (created if needed), atomically; returns the file's path.
    @discardableResult
    public static func store(_ reference: ReferenceFeatures, directory: String) throws -> String {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw FileError.cannotCreate(path: directory, reason: FileError.reason(of: error))
        }
        var archive = SafeTensorsArchive()
        archive.set("features", floats: reference.features, shape: [reference.count, reference.dimension])
        archive.set("mean", doubles: reference.statistics.mean, shape: [reference.dimension])
        archive.set("covariance", doubles: reference.statistics.covariance, shape: [reference.dimension, reference.dimension])
        archive.metadata = ["format": format, "network_sha256": reference.networkSHA256,
                            "data_checksum": reference.dataChecksum]
        archive.metadata["tensor_sha256"] = archive.tensorDataDigest()
        let path = directory + "/" + fileName(networkSHA256: reference.networkSHA256, dataChecksum: reference.dataChecksum)
        try archive.write(to: path)
        return path
    }

    /// The cached features if present, else computes them with `network` from `images` ([count, 784])
    /// and stores them. `cached` says which happened. Each network has its own file (keyed by its SHA-256), so
    /// LeNet's and Inception's references sit side by side; `stage` names the pass in the progress line of a slow one.
    public static func loadOrCompute(directory: String, network: any FeatureExtractor, images: [Float], count: Int,
                                     dataChecksum: String, stage: String? = nil) throws -> (reference: ReferenceFeatures, cached: Bool) {
        if let hit = load(directory: directory, networkSHA256: network.sha256, dataChecksum: dataChecksum),
           hit.dimension == network.dimension {
            return (hit, true)
        }
        let outputs = network.extract(images, count: count, stage: stage)
        let reference = try ReferenceFeatures(features: outputs.features, dimension: network.dimension,
                                              networkSHA256: network.sha256, dataChecksum: dataChecksum)
        try store(reference, directory: directory)
        return (reference, false)
    }
}
