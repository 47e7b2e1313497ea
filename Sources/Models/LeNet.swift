import Autodiff
import Foundation
import Layers
import Storage

/// The MNIST classifier whose activations are the feature space of the evaluator's FID, KID and
/// precision/recall (an Inception-v3 stand-in for 28 x 28 digits).
///
/// Architecture (PyTorch's classic MNIST example, LeNet-5 style):
///
///     x [N, 1, 28, 28] -> conv1 (1 -> 32, k5) ReLU maxpool2   -> [N, 32, 12, 12]
///                      -> conv2 (32 -> 64, k5) ReLU maxpool2  -> [N, 64, 4, 4] -> flatten [N, 1024]
///                      -> fc1 (1024 -> 128) [features] ReLU -> fc2 (128 -> 10) logits
///
/// Input: pixels / 255 in [0, 1], 28 x 28, NCHW (rows of 784 are accepted and viewed as [N, 1, 28, 28]),
/// exactly the `MNISTSplit.images` layout and the range of `GenerativeModel.sample`.
///
/// Feature layer: the 128 activations of fc1 BEFORE the ReLU (`FeatureLayer.fc1PreReLU`). After the ReLU
/// many units are zero on every real digit, which leaves all-zero rows and columns in both covariances;
/// before it every unit varies. The counts are measured by `vae-train classifier` and recorded in the
/// shipped file's metadata (see fixtures/feature-network/README.md).
public final class LeNet: ParameterContainer {
    /// Metadata `format` of a feature-network file.
    public static let format = "vae-toolkit-feature-network"
    public static let formatVersion = "1"
    public static let architecture = "lenet-mnist: conv(1,32,5) relu pool2, conv(32,64,5) relu pool2, fc(1024,128) relu, fc(128,10)"
    public static let imageSide = 28
    public static let classes = 10
    public static let featureSize = 128

    /// Where in the network the features are read.
    public enum FeatureLayer: String, Codable, CaseIterable, Sendable {
        /// fc1's output before its ReLU: every unit alive (the default).
        case fc1PreReLU = "fc1_pre_relu"
        /// fc1's output after its ReLU: the "penultimate activations" of the textbook recipe.
        case fc1PostReLU = "fc1_post_relu"
    }

    public let conv1: Conv2D
    public let conv2: Conv2D
    public let fc1: Linear
    public let fc2: Linear

    /// A freshly initialised network (PyTorch's default initialisation), parameters from `generator`.
    public init(generator: inout SeededGenerator) {
        conv1 = Conv2D(inputChannels: 1, outputChannels: 32, kernelSize: 5, generator: &generator)
        conv2 = Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 5, generator: &generator)
        fc1 = Linear(inputSize: 1024, outputSize: Self.featureSize, generator: &generator)
        fc2 = Linear(inputSize: Self.featureSize, outputSize: Self.classes, generator: &generator)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        nested("conv1", conv1) + nested("conv2", conv2) + nested("fc1", fc1) + nested("fc2", fc2)
    }

    /// fc1's pre-activation [N, 128] and the logits [N, 10] of `images` ([N, 784] or [N, 1, 28, 28]).
    public func forward(_ images: Tensor) -> (fc1: Tensor, logits: Tensor) { Self.forward(images, parameters) }

    /// The forward pass with the parameters given in `namedParameters` order (conv1 weight, bias, conv2 ...,
    /// fc2 bias): the trainable tensors, or detached copies for inference.
    static func forward(_ images: Tensor, _ p: [Tensor]) -> (fc1: Tensor, logits: Tensor) {
        let side = imageSide
        precondition(images.count % (side * side) == 0 && (images.rank == 2 || images.rank == 4),
                     "LeNet: images \(images.shape), want [N, 784] or [N, 1, 28, 28]")
        let n = images.count / (side * side)
        let x = images.rank == 4 ? images : images.reshaped([n, 1, side, side])
        precondition(x.shape == [n, 1, side, side], "LeNet: images \(images.shape), want [N, 1, 28, 28]")
        let h1 = Tensor.maxPool2d(Tensor.conv2d(x, weight: p[0], bias: p[1], stride: 1, padding: 0).relu(), size: 2)
        let h2 = Tensor.maxPool2d(Tensor.conv2d(h1, weight: p[2], bias: p[3], stride: 1, padding: 0).relu(), size: 2)
        let pre = Tensor.linear(h2.reshaped([n, 1024]), weight: p[4], bias: p[5])
        return (pre, Tensor.linear(pre.relu(), weight: p[6], bias: p[7]))
    }

    /// Class logits [N, 10].
    public func callAsFunction(_ images: Tensor) -> Tensor { forward(images).logits }

    /// What inference over a set of images yields.
    public struct Outputs: Sendable {
        /// Features of the chosen layer, row-major [count, 128].
        public var features: [Float]
        /// Softmax probabilities, row-major [count, 10].
        public var probabilities: [Float]
        /// The argmax class of each image.
        public var predictions: [Int]
        public var count: Int
    }

    /// Runs the network over `count` images (row-major [count, 784], pixels in [0, 1]) `batchSize` at a
    /// time, recording no graph (the parameters are detached copies).
    ///
    /// The default batch keeps the largest activation (conv1's, 250 x 32 x 24 x 24 floats, 17.6 MiB) under glibc's
    /// 32 MiB mmap threshold (`MemoryTuning`), so its buffers are reused from the heap instead of mapped and unmapped
    /// every batch (the page faults and system time: notebooks-md/performance.md). Every image's features are the same
    /// bits at any batch size.
    public func infer(_ images: [Float], count: Int, layer: FeatureLayer = .fc1PreReLU, batchSize: Int = 250) -> Outputs {
        let pixels = Self.imageSide * Self.imageSide
        precondition(images.count == count * pixels, "LeNet.infer: \(images.count) values for \(count) images of 784")
        precondition(batchSize >= 1, "LeNet.infer: batchSize must be >= 1")
        let frozen = parameters.map { $0.detached() }
        var outputs = Outputs(features: [], probabilities: [], predictions: [], count: count)
        outputs.features.reserveCapacity(count * Self.featureSize)
        outputs.probabilities.reserveCapacity(count * Self.classes)
        var start = 0
        while start < count {
            let size = min(batchSize, count - start)
            let batch = Tensor(shape: [size, pixels], data: Array(images[(start * pixels)..<((start + size) * pixels)]))
            let (pre, logits) = Self.forward(batch, frozen)
            switch layer {
            case .fc1PreReLU: outputs.features += pre.data
            case .fc1PostReLU: outputs.features += pre.data.map { max($0, 0) }
            }
            let probabilities = logits.softmaxRows().data
            outputs.probabilities += probabilities
            for b in 0..<size {
                var best = 0
                for c in 1..<Self.classes where logits.data[b * Self.classes + c] > logits.data[b * Self.classes + best] { best = c }
                outputs.predictions.append(best)
            }
            start += size
        }
        return outputs
    }

    /// Feature units that take one value on every image of `features` ([n, dimension], row-major):
    /// "dead" units, which give all-zero rows and columns in a covariance. After a ReLU these are the units
    /// that are zero on every image.
    public static func deadUnits(features: [Float], dimension: Int) -> [Int] {
        precondition(dimension >= 1 && features.count % dimension == 0, "deadUnits: bad shape")
        let n = features.count / dimension
        guard n > 0 else { return [] }
        return (0..<dimension).filter { j in
            let first = features[j]
            for i in 1..<max(n, 1) where features[i * dimension + j] != first { return false }
            return true
        }
    }

    // MARK: - Files

    /// Writes the parameters and `metadata` (plus format, architecture and tensor_sha256) as safetensors, atomically.
    public func write(to path: String, metadata: [String: String]) throws {
        var archive = SafeTensorsArchive()
        for (name, tensor) in namedParameters { archive.set(name, floats: tensor.data, shape: tensor.shape) }
        var meta = metadata
        meta["format"] = Self.format
        meta["format_version"] = Self.formatVersion
        meta["architecture"] = Self.architecture
        archive.metadata = meta
        archive.metadata["tensor_sha256"] = archive.tensorDataDigest()
        try archive.write(to: path)
    }

    /// Loads a network written by `write(to:metadata:)`, checking every tensor's name and shape.
    /// Throws `FeatureNetworkError` (one line, naming the file) for anything else.
    public static func load(from path: String) throws -> (network: LeNet, metadata: [String: String]) {
        let archive: SafeTensorsArchive
        do { archive = try SafeTensorsArchive(contentsOf: path) } catch {
            throw FeatureNetworkError.unreadable(path: path, reason: "\(error)")
        }
        guard archive.metadata["format"] == format else {
            throw FeatureNetworkError.unreadable(path: path, reason: "its metadata has no format=\(format) entry (not a feature network written by vae-train classifier)")
        }
        if let digest = archive.metadata["tensor_sha256"], digest != archive.tensorDataDigest() {
            throw FeatureNetworkError.unreadable(path: path, reason: "tensor data does not match its recorded SHA-256 (the file is corrupt)")
        }
        var generator = SeededGenerator(seed: 0)
        let network = LeNet(generator: &generator)
        let expected = network.namedParameters
        for (name, tensor) in expected {
            guard archive.entries[name] != nil else { throw FeatureNetworkError.missingTensor(path: path, name: name) }
            let shape = try archive.shape(of: name)
            guard shape == tensor.shape else {
                throw FeatureNetworkError.wrongShape(path: path, name: name, shape: shape, expected: tensor.shape)
            }
            do { tensor.data = try archive.floats(name) } catch {
                throw FeatureNetworkError.unreadable(path: path, reason: "'\(name)': \(error)")
            }
        }
        let known = Set(expected.map(\.name))
        if let extra = archive.entries.keys.sorted().first(where: { !known.contains($0) }) {
            throw FeatureNetworkError.unexpectedTensor(path: path, name: extra)
        }
        return (network, archive.metadata)
    }
}

/// Problems with a feature-network file, one line each.
public enum FeatureNetworkError: Error, CustomStringConvertible, Equatable {
    case notFound(searched: [String])
    case unreadable(path: String, reason: String)
    case missingTensor(path: String, name: String)
    case wrongShape(path: String, name: String, shape: [Int], expected: [Int])
    case unexpectedTensor(path: String, name: String)

    public var description: String {
        switch self {
        case .notFound(let searched):
            return "no feature network found (looked for \(searched.joined(separator: ", "))); pass --feature-network PATH or train one with 'vae-train classifier'"
        case let .unreadable(path, reason):
            return "cannot use \(path) as the feature network: \(reason)"
        case let .missingTensor(path, name):
            return "\(path) is not a LeNet feature network: tensor '\(name)' is missing"
        case let .wrongShape(path, name, shape, expected):
            return "\(path) is not a LeNet feature network: '\(name)' has shape \(shape), LeNet needs \(expected)"
        case let .unexpectedTensor(path, name):
            return "\(path) is not a LeNet feature network: unexpected tensor '\(name)'"
        }
    }
}
