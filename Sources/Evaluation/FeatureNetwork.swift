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

    /// Where to load the feature network from, in order:
    ///  1. `explicit` (`--feature-network PATH`), which must exist;
    ///  2. `fixtures/feature-network/lenet-mnist.safetensors` in the repository that contains
    ///     `currentDirectory` (the nearest enclosing folder with a Package.swift);
    ///  3. the same path next to the sources this binary was built from (`#filePath`), for runs from outside
    ///     the repository.
    /// The walk comes first because it follows the checkout the user is working in even when the binary
    /// was built elsewhere (a copied or relocated build, another worktree's build folder); `#filePath` is
    /// fixed at compile time and goes stale when the tree moves, so it is only the fallback.
    public static func locate(explicit: String?, currentDirectory: String,
                              sourceFile: String = #filePath) throws -> String {
        if let explicit, !explicit.isEmpty {
            guard FileManager.default.fileExists(atPath: explicit) else {
                throw FeatureNetworkError.unreadable(path: explicit, reason: "no such file")
            }
            return explicit
        }
        var searched: [String] = []
        if let root = ProjectFolder.root(from: currentDirectory) {
            let candidate = root + "/" + repositoryRelativePath
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            searched.append(candidate)
        }
        // Sources/Evaluation/FeatureNetwork.swift -> the repository root is three levels up.
        let sourceRoot = URL(fileURLWithPath: sourceFile).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let fallback = sourceRoot + "/" + repositoryRelativePath
        if FileManager.default.fileExists(atPath: fallback) { return fallback }
        if !searched.contains(fallback) { searched.append(fallback) }
        throw FeatureNetworkError.notFound(searched: searched)
    }

}
