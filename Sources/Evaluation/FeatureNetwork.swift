import Foundation
import Models
import Storage

/// The feature network of the evaluator's FID, KID and precision/recall, loaded from a file, with the
/// SHA-256 of that file (which keys every cached statistic computed with it).
public struct FeatureNetwork {
    /// The shipped network, relative to the repository root.
    public static let repositoryRelativePath = "fixtures/feature-network/lenet-mnist.safetensors"

    public let network: LeNet
    public let path: String
    /// SHA-256 of the file's bytes.
    public let sha256: String
    /// The layer the features are read from (metadata `feature_layer`).
    public let layer: LeNet.FeatureLayer
    public let metadata: [String: String]

    /// Loads and checks a network file (see `LeNet.load`); the metadata must name a known feature layer.
    public init(path: String) throws {
        let (network, metadata) = try LeNet.load(from: path)
        let layerName = metadata["feature_layer"] ?? LeNet.FeatureLayer.fc1PreReLU.rawValue
        guard let layer = LeNet.FeatureLayer(rawValue: layerName) else {
            throw FeatureNetworkError.unreadable(path: path, reason: "unknown feature_layer '\(layerName)' in its metadata")
        }
        self.network = network
        self.path = path
        self.layer = layer
        self.metadata = metadata
        self.sha256 = SHA256.hexDigest(of: try SafeTensorsArchive.readFile(path))
    }

    /// Features [count, 128] and softmax probabilities [count, 10] of `images` ([count, 784], pixels in [0, 1]).
    public func measure(_ images: [Float], count: Int) -> LeNet.Outputs {
        network.infer(images, count: count, layer: layer)
    }

    /// The feature dimension.
    public var dimension: Int { LeNet.featureSize }

    /// The shipped network's name among the toolkit's assets (`ToolkitAssets`).
    public static let assetName = "feature-network/lenet-mnist.safetensors"

    /// Where to load the feature network from: `explicit` (`--feature-network PATH`), which must exist; else the
    /// shipped file found by `ToolkitAssets` (installed beside the executable, in the checkout holding
    /// `currentDirectory`, or in the checkout the executable was built in), so the commands work from any folder
    /// and once installed.
    public static func locate(explicit: String?, currentDirectory: String,
                              executableFolder: String? = ToolkitAssets.executableFolder) throws -> String {
        if let explicit, !explicit.isEmpty {
            guard FileManager.default.fileExists(atPath: explicit) else {
                throw FeatureNetworkError.unreadable(path: explicit, reason: "no such file")
            }
            return explicit
        }
        let (path, searched) = ToolkitAssets.locate(assetName, currentDirectory: currentDirectory, executableFolder: executableFolder)
        if let path { return path }
        throw FeatureNetworkError.notFound(searched: searched)
    }

}
