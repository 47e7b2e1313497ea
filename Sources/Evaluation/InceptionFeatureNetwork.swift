import Foundation
import Models
import Storage

/// Inception-v3 (pytorch-fid's network, `InceptionV3`) as a feature network of the evaluator, beside the LeNet one
/// (`FeatureNetwork`): loaded from a weight file given by path, with the SHA-256 of that file (which keys every
/// cached statistic computed with it).
public struct InceptionFeatureNetwork: Sendable {
    public let network: InceptionV3
    public let path: String
    /// SHA-256 of the file's bytes.
    public let sha256: String

    /// Loads the weights from `path`: pytorch-fid's published `.pth` (either `torch.save` format, read by the
    /// restricted unpickler of `StateDict`) or a safetensors file with the same tensor names (see `InceptionV3`).
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw InceptionWeightsError.unreadable(path: path, reason: "no such file")
        }
        let bytes: [UInt8]
        do { bytes = try SafeTensorsArchive.readFile(path) } catch {
            throw InceptionWeightsError.unreadable(path: path, reason: "\(error)")
        }
        let tensors: [String: SafeTensorsEntry]
        do { tensors = try StateDict.read(bytes: bytes, source: path) } catch {
            throw InceptionWeightsError.unreadable(path: path, reason: "\(error)")
        }
        try self.init(tensors: tensors, path: path, sha256: SHA256.hexDigest(of: bytes))
    }

    /// The network from a state dict already read from `path` (e.g. by a PyTorch checkpoint reader), with the
    /// SHA-256 of the file's bytes.
    public init(tensors: [String: SafeTensorsEntry], path: String, sha256: String) throws {
        network = try InceptionV3(tensors: tensors, source: path)
        self.path = path
        self.sha256 = sha256
    }

    /// Features [count, 2048] of `images` ([count, 784], pixels in [0, 1]). With a `stage` name, progress goes to
    /// standard error: a live line with images/s and the ETA on a terminal, one summary line otherwise.
    public func measure(_ images: [Float], count: Int, stage: String? = nil) -> [Float] {
        guard let stage else { return network.features(of: images, count: count) }
        let progress = StageProgress(stage: stage, total: count)
        let features = network.features(of: images, count: count) { done, _ in progress.update(done) }
        progress.finish()
        return features
    }

    /// The feature dimension.
    public var dimension: Int { InceptionV3.featureSize }
}
