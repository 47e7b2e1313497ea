import Autodiff
import Foundation
import Storage

/// Inception-v3's 2048-d pool3 features exactly as pytorch-fid 0.3.0 computes them (`pytorch_fid/inception.py`,
/// `InceptionV3([3])` with `fid_inception_v3()`): the features of the Frechet *Inception* Distance of papers.
///
/// Network: torchvision's Inception-v3 trunk (Szegedy et al. 2016, "Rethinking the Inception Architecture"), every
/// convolution without bias followed by batch norm (eps 0.001) and ReLU, with pytorch-fid's patched blocks:
///
///     grey [N, 28, 28] /255 -> 3 channels -> bilinear 299 x 299 (align_corners=False) -> 2x - 1
///     Conv2d_1a_3x3 (3->32, s2) Conv2d_2a_3x3 (32->32) Conv2d_2b_3x3 (32->64, p1) maxpool 3/2   -> 73 x 73 x 64
///     Conv2d_3b_1x1 (64->80) Conv2d_4a_3x3 (80->192) maxpool 3/2                                 -> 35 x 35 x 192
///     Mixed_5b/5c/5d   FIDInceptionA (pool 32, 64, 64)                                           -> 35 x 35 x 288
///     Mixed_6a         InceptionB                                                                -> 17 x 17 x 768
///     Mixed_6b-6e      FIDInceptionC (c7 = 128, 160, 160, 192)                                   -> 17 x 17 x 768
///     Mixed_7a         InceptionD                                                                -> 8 x 8 x 1280
///     Mixed_7b         FIDInceptionE_1; Mixed_7c FIDInceptionE_2 (max pool in its pool branch)   -> 8 x 8 x 2048
///     global average pool                                                                        -> 2048
///
/// The FID blocks' average pools leave the padding out of the mean (`count_include_pad=False`, as TensorFlow's).
/// Weights: the tensors of pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` under its names
/// (`Conv2d_1a_3x3.conv.weight`, `Conv2d_1a_3x3.bn.weight` / `.bias` / `.running_mean` / `.running_var`, ...,
/// `fc.weight`, `fc.bias`); batch norm is folded into each convolution at load time (`FoldedConvolution`), and since
/// the three input channels are the same grey image, Conv2d_1a's weight is summed over them (one input channel).
/// Inference runs channels-last over `FeatureMap`s (`InceptionV3+Forward.swift`).
public final class InceptionV3: Sendable {
    /// Dimension of the pool3 features.
    public static let featureSize = 2048
    /// Side of the network's input after the resize.
    public static let inputSide = 299
    /// torchvision's `BasicConv2d` batch-norm epsilon.
    public static let batchNormEpsilon = 0.001
    /// The classifier of the published file (1008 ImageNet classes of the 2015 TensorFlow graph; unused by the
    /// features, checked when present).
    public static let classifierClasses = 1008

    /// Every convolution, batch norm folded in, by the published name of its module (`Mixed_5b.branch1x1`), plus
    /// each block's fused opening 1 x 1 convolutions (`Mixed_5b.fused`).
    let convolutions: [String: FoldedConvolution]

    /// Loads the network from a state dict (tensors by name, as `SafeTensorsArchive.entries` or the PyTorch
    /// checkpoint reader give them; `source` names it in errors). Every convolution and batch-norm tensor must be
    /// there with its shape, as F32 (or F64); `*.num_batches_tracked` and `fc.weight` / `fc.bias` (if their shapes are
    /// right) are ignored. Throws one `InceptionWeightsError` listing every missing, mis-shaped or unexpected tensor.
    public init(tensors: [String: SafeTensorsEntry], source: String) throws {
        var problems: [String] = []
        var known = Set<String>()
        func values(_ name: String, _ shape: [Int]) -> [Float]? {
            known.insert(name)
            guard let entry = tensors[name] else { problems.append("'\(name)' is missing"); return nil }
            guard entry.shape == shape else { problems.append("'\(name)' has shape \(entry.shape), needs \(shape)"); return nil }
            switch entry.dtype {
            case .f32: return entry.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            case .f64: return entry.bytes.withUnsafeBytes { $0.bindMemory(to: Double.self).map(Float.init) }
            default: problems.append("'\(name)' has dtype \(entry.dtype.rawValue), needs F32"); return nil
            }
        }
        var convolutions: [String: FoldedConvolution] = [:]
        for spec in Self.layers {
            let o = spec.outputs
            let w = values(spec.name + ".conv.weight", [o, spec.inputs, spec.kernelHeight, spec.kernelWidth])
            let gamma = values(spec.name + ".bn.weight", [o]), beta = values(spec.name + ".bn.bias", [o])
            let mean = values(spec.name + ".bn.running_mean", [o]), variance = values(spec.name + ".bn.running_var", [o])
            known.insert(spec.name + ".bn.num_batches_tracked")
            guard let w, let gamma, let beta, let mean, let variance else { continue }
            if let bad = variance.firstIndex(where: { !($0 >= 0) || !$0.isFinite }) {
                problems.append("'\(spec.name).bn.running_var' has \(variance[bad]) at \(bad), needs finite values >= 0")
                continue
            }
            var weight = w, inputs = spec.inputs
            if spec.name == "Conv2d_1a_3x3" {
                // Grey input: the three channels are equal, so sum the weight over them.
                let area = spec.kernelHeight * spec.kernelWidth
                weight = (0..<(o * area)).map { index in
                    let (out, tap) = (index / area, index % area)
                    return (0..<spec.inputs).reduce(Float(0)) { $0 + w[(out * spec.inputs + $1) * area + tap] }
                }
                inputs = 1
            }
            convolutions[spec.name] = FoldedConvolution(
                pytorch: weight, outputChannels: o, inputChannels: inputs, kernelHeight: spec.kernelHeight,
                kernelWidth: spec.kernelWidth, stride: spec.stride, paddingHeight: spec.paddingHeight,
                paddingWidth: spec.paddingWidth, gamma: gamma, beta: beta, mean: mean, variance: variance,
                epsilon: Self.batchNormEpsilon)
        }
        for (name, shape) in [("fc.weight", [Self.classifierClasses, Self.featureSize]), ("fc.bias", [Self.classifierClasses])] {
            known.insert(name)
            if let entry = tensors[name], entry.shape != shape { problems.append("'\(name)' has shape \(entry.shape), needs \(shape)") }
        }
        for name in tensors.keys.sorted() where !known.contains(name) { problems.append("unexpected tensor '\(name)'") }
        guard problems.isEmpty else { throw InceptionWeightsError.notInception(source: source, problems: problems) }
        for (block, parts) in Self.fusedOpenings {
            convolutions[block + ".fused"] = FoldedConvolution(concatenating: parts.map { convolutions[block + "." + $0]! })
        }
        self.convolutions = convolutions
    }

    /// Loads the network from a safetensors file with the published file's tensor names.
    public convenience init(contentsOf path: String) throws {
        let archive: SafeTensorsArchive
        do { archive = try SafeTensorsArchive(contentsOf: path) } catch {
            throw InceptionWeightsError.unreadable(path: path, reason: "\(error)")
        }
        try self.init(tensors: archive.entries, source: path)
    }

    /// A state dict with every tensor of the published file, right names and shapes, seeded random values (for
    /// benchmarks and tests): conv weights He-normal (std sqrt(2 / fan-in)), batch-norm weight in [0.5, 1.5], bias in
    /// [-0.5, 0.5], running mean in [0, 1], running variance in [0.5, 2]; fc zero.
    public static func randomTensors(seed: UInt64) -> [String: SafeTensorsEntry] {
        var g = SeededGenerator(seed: seed)
        var entries: [String: SafeTensorsEntry] = [:]
        func put(_ name: String, _ values: [Float], _ shape: [Int]) {
            entries[name] = SafeTensorsEntry(dtype: .f32, shape: shape, bytes: values.withUnsafeBytes { [UInt8]($0) })
        }
        for layer in layers {
            let fanIn = layer.inputs * layer.kernelHeight * layer.kernelWidth
            put(layer.name + ".conv.weight", g.normals(layer.outputs * fanIn).map { $0 * (2 / Float(fanIn)).squareRoot() },
                [layer.outputs, layer.inputs, layer.kernelHeight, layer.kernelWidth])
            for (suffix, low, high) in [("weight", Float(0.5), Float(1.5)), ("bias", -0.5, 0.5), ("running_mean", 0, 1),
                                        ("running_var", 0.5, 2)] {
                put(layer.name + ".bn." + suffix, (0..<layer.outputs).map { _ in g.nextUniform(in: low, high) }, [layer.outputs])
            }
        }
        put("fc.weight", [Float](repeating: 0, count: classifierClasses * featureSize), [classifierClasses, featureSize])
        put("fc.bias", [Float](repeating: 0, count: classifierClasses), [classifierClasses])
        return entries
    }

    // MARK: - Architecture

    /// One convolution of the network (module name without `.conv` / `.bn`), as PyTorch builds it.
    struct Layer {
        let name: String
        let inputs: Int, outputs: Int
        let kernelHeight: Int, kernelWidth: Int
        let stride: Int, paddingHeight: Int, paddingWidth: Int
        init(_ name: String, _ inputs: Int, _ outputs: Int, _ kernel: (Int, Int), stride: Int = 1, padding: (Int, Int) = (0, 0)) {
            self.name = name; self.inputs = inputs; self.outputs = outputs
            kernelHeight = kernel.0; kernelWidth = kernel.1
            self.stride = stride; paddingHeight = padding.0; paddingWidth = padding.1
        }
    }

    /// The Mixed blocks in order: name, kind, input channels and the kind's width parameter (A: pool features,
    /// C: channels_7x7).
    enum BlockKind { case a, b, c, d, e1, e2 }
    static let blocks: [(name: String, kind: BlockKind, inputs: Int, width: Int)] = [
        ("Mixed_5b", .a, 192, 32), ("Mixed_5c", .a, 256, 64), ("Mixed_5d", .a, 288, 64), ("Mixed_6a", .b, 288, 0),
        ("Mixed_6b", .c, 768, 128), ("Mixed_6c", .c, 768, 160), ("Mixed_6d", .c, 768, 160), ("Mixed_6e", .c, 768, 192),
        ("Mixed_7a", .d, 768, 0), ("Mixed_7b", .e1, 1280, 0), ("Mixed_7c", .e2, 2048, 0),
    ]

    /// Every convolution of torchvision's `Inception3` (without AuxLogits) with pytorch-fid's blocks.
    static let layers: [Layer] = {
        var layers = [
            Layer("Conv2d_1a_3x3", 3, 32, (3, 3), stride: 2), Layer("Conv2d_2a_3x3", 32, 32, (3, 3)),
            Layer("Conv2d_2b_3x3", 32, 64, (3, 3), padding: (1, 1)), Layer("Conv2d_3b_1x1", 64, 80, (1, 1)),
            Layer("Conv2d_4a_3x3", 80, 192, (3, 3)),
        ]
        for (block, kind, c, width) in blocks {
            func add(_ name: String, _ i: Int, _ o: Int, _ k: (Int, Int), stride: Int = 1, padding: (Int, Int) = (0, 0)) {
                layers.append(Layer(block + "." + name, i, o, k, stride: stride, padding: padding))
            }
            switch kind {
            case .a:
                add("branch1x1", c, 64, (1, 1))
                add("branch5x5_1", c, 48, (1, 1)); add("branch5x5_2", 48, 64, (5, 5), padding: (2, 2))
                add("branch3x3dbl_1", c, 64, (1, 1)); add("branch3x3dbl_2", 64, 96, (3, 3), padding: (1, 1))
                add("branch3x3dbl_3", 96, 96, (3, 3), padding: (1, 1))
                add("branch_pool", c, width, (1, 1))
            case .b:
                add("branch3x3", c, 384, (3, 3), stride: 2)
                add("branch3x3dbl_1", c, 64, (1, 1)); add("branch3x3dbl_2", 64, 96, (3, 3), padding: (1, 1))
                add("branch3x3dbl_3", 96, 96, (3, 3), stride: 2)
            case .c:
                add("branch1x1", c, 192, (1, 1))
                add("branch7x7_1", c, width, (1, 1)); add("branch7x7_2", width, width, (1, 7), padding: (0, 3))
                add("branch7x7_3", width, 192, (7, 1), padding: (3, 0))
                add("branch7x7dbl_1", c, width, (1, 1)); add("branch7x7dbl_2", width, width, (7, 1), padding: (3, 0))
                add("branch7x7dbl_3", width, width, (1, 7), padding: (0, 3))
                add("branch7x7dbl_4", width, width, (7, 1), padding: (3, 0))
                add("branch7x7dbl_5", width, 192, (1, 7), padding: (0, 3))
                add("branch_pool", c, 192, (1, 1))
            case .d:
                add("branch3x3_1", c, 192, (1, 1)); add("branch3x3_2", 192, 320, (3, 3), stride: 2)
                add("branch7x7x3_1", c, 192, (1, 1)); add("branch7x7x3_2", 192, 192, (1, 7), padding: (0, 3))
                add("branch7x7x3_3", 192, 192, (7, 1), padding: (3, 0)); add("branch7x7x3_4", 192, 192, (3, 3), stride: 2)
            case .e1, .e2:
                add("branch1x1", c, 320, (1, 1))
                add("branch3x3_1", c, 384, (1, 1)); add("branch3x3_2a", 384, 384, (1, 3), padding: (0, 1))
                add("branch3x3_2b", 384, 384, (3, 1), padding: (1, 0))
                add("branch3x3dbl_1", c, 448, (1, 1)); add("branch3x3dbl_2", 448, 384, (3, 3), padding: (1, 1))
                add("branch3x3dbl_3a", 384, 384, (1, 3), padding: (0, 1)); add("branch3x3dbl_3b", 384, 384, (3, 1), padding: (1, 0))
                add("branch_pool", c, 192, (1, 1))
            }
        }
        return layers
    }()

    /// The 1 x 1 convolutions that open each block on its input, computed as one product (in this order).
    static let fusedOpenings: [(block: String, parts: [String])] = blocks.compactMap { block, kind, _, _ in
        switch kind {
        case .a: return (block, ["branch1x1", "branch5x5_1", "branch3x3dbl_1"])
        case .b: return nil
        case .c: return (block, ["branch1x1", "branch7x7_1", "branch7x7dbl_1"])
        case .d: return (block, ["branch3x3_1", "branch7x7x3_1"])
        case .e1, .e2: return (block, ["branch1x1", "branch3x3_1", "branch3x3dbl_1"])
        }
    }

    /// Multiply-adds of the network's convolutions for one image, as PyTorch runs them (3 input channels in
    /// Conv2d_1a_3x3): the sum over layers of Ho*Wo*O*C*K*L, about 5.7 G (twice that in FLOP). The stem runs
    /// 299 -> 149 -> 147 -> 147 -> pool 73 -> 73 -> 71 -> pool 35; inside a block every layer keeps the block's
    /// input side s (its paddings preserve it) except the stride-2 ones, (s - 3)/2 + 1.
    public static let multiplyAddsPerImage: Int = {
        func cost(_ layer: Layer, _ side: Int) -> Int {
            side * side * layer.outputs * layer.inputs * layer.kernelHeight * layer.kernelWidth
        }
        let stemSides = ["Conv2d_1a_3x3": 149, "Conv2d_2a_3x3": 147, "Conv2d_2b_3x3": 147, "Conv2d_3b_1x1": 73, "Conv2d_4a_3x3": 71]
        var blockSide: [String: Int] = [:]
        var side = 35
        for block in blocks {
            blockSide[block.name] = side
            if block.kind == .b || block.kind == .d { side = (side - 3) / 2 + 1 }
        }
        return layers.reduce(0) { total, layer in
            if let stem = stemSides[layer.name] { return total + cost(layer, stem) }
            let s = blockSide[String(layer.name.prefix { $0 != "." })]!
            return total + cost(layer, layer.stride == 2 ? (s - 3) / 2 + 1 : s)
        }
    }()
}

/// Problems with an Inception weight file, one line each.
public enum InceptionWeightsError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case notInception(source: String, problems: [String])

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read Inception weights \(path): \(reason)"
        case let .notInception(source, problems):
            let shown = problems.prefix(12).joined(separator: "; ")
            let more = problems.count > 12 ? "; ... (\(problems.count) problems in all)" : ""
            return "\(source) is not pytorch-fid's Inception-v3 (pt_inception-2015-12-05): \(shown)\(more)"
        }
    }
}
