import Autodiff
import Foundation
import Layers
import LinearAlgebra

/// The shape of a `CodePrior`: which grids it models and how big its network is. Stored as JSON in the
/// prior's file.
public struct CodePriorConfiguration: Codable, Equatable, Sendable {
    /// Grid positions P, modelled in raster order (VQ-VAE: 7 x 7 = 49).
    public var positions: Int
    /// Codes K per position (VQ-VAE: the codebook size).
    public var codes: Int
    /// Size E of the learned input embedding of a code.
    public var embeddingSize: Int = 16
    /// Units H of each hidden layer.
    public var hiddenSize: Int = 1024
    /// Masked hidden layers (each followed by a ReLU).
    public var hiddenLayers: Int = 2
    /// Size R of the per-position vector that the shared readout turns into K logits.
    public var outputRank: Int = 32

    public init(positions: Int, codes: Int, embeddingSize: Int = 16, hiddenSize: Int = 1024, hiddenLayers: Int = 2,
                outputRank: Int = 32) {
        self.positions = positions; self.codes = codes; self.embeddingSize = embeddingSize
        self.hiddenSize = hiddenSize; self.hiddenLayers = hiddenLayers; self.outputRank = outputRank
    }

    /// The prior over a VQ-VAE's code grids (7 x 7 positions, K = its codebook size), default network.
    public static func forVQVAE(_ model: ModelConfiguration) -> CodePriorConfiguration {
        CodePriorConfiguration(positions: VQVAE.positions, codes: model.codebookSize)
    }

    /// Checks the numbers make sense; the message names the offending field.
    public func validate() throws {
        func require(_ ok: Bool, _ message: String) throws { if !ok { throw ModelError.invalidConfiguration(message) } }
        try require(positions >= 2, "code prior: positions must be >= 2, got \(positions)")
        try require(codes >= 2, "code prior: codes must be >= 2, got \(codes)")
        try require(embeddingSize >= 1 && hiddenSize >= 1 && hiddenLayers >= 1 && outputRank >= 1,
                    "code prior: embedding size, hidden size, hidden layers and output rank must be >= 1, got "
                    + "\(embeddingSize), \(hiddenSize), \(hiddenLayers), \(outputRank)")
    }

    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}

/// A learned autoregressive prior over grids of code indices: MADE (Germain et al. 2015), a masked MLP whose
/// output at position i sees only the codes at positions < i (raster order), so that
///
///     p(c_0, ..., c_{P-1}) = prod_i softmax(logits_i(c_<i))[c_i].
///
/// Network, for a batch of B grids of P code indices in 0..<K:
///     x = [emb(c_0), ..., emb(c_{P-1})]                        embedding table [K, E] -> x [B, P E]
///     h_1 = ReLU(x (W_1 . M_1)^T + b_1)                          W_1 [H, P E]
///     h_l = ReLU(h_{l-1} (W_l . M_l)^T + b_l), l = 2...L        W_l [H, H]
///     s = h_L (W_o . M_o)^T + b_o                                W_o [P R, H] -> s [B P, R]
///     logits = s U^T + u + beta_p                                 readout U [K, R], u [K], position bias [P, K]
/// The masks come from degrees: input block p (the E numbers of position p) has degree p; hidden unit h has
/// degree m(h) = floor(h (P - 1) / H) in 0...P-2, the same in every layer (sorted, evenly spread); then
///     M_1[h, (p, e)] = [m(h) >= p],   M_l[h', h] = [m(h') >= m(h)],   M_o[(i, r), h] = [i > m(h)],
/// so every path from input p to output i passes degrees p <= ... < i: output i depends on positions < i only,
/// and position 0's logits are u + beta_0 + U b_o (its marginal). Because degrees are sorted, every mask keeps a
/// prefix of each weight row (row r: its first lengths[r] columns), and `Tensor.prefixMaskedLinear` applies it in
/// the forward and backward passes (masked weights get zero gradient) while skipping most of the masked products;
/// masked weights are also zero from initialisation on.
///
/// Choices: a learned E-dimensional code embedding instead of one-hot inputs keeps the first layer at
/// P E x H (E = 16: 0.8 M weights for H = 1024) instead of P K x H (6.4 M); the first layer's position blocks
/// are still position-specific. The output is low-rank, as in language models' tied softmax: R = 32 numbers
/// per position through one readout shared by all positions (a code means the same thing everywhere), plus a
/// free per-position bias for the marginals; this cuts the output layer from H x P K (6.4 M) to H x P R (1.6 M).
/// Sorted degrees also mean that sampling position i needs only the hidden units of degree < i, and only those of
/// degree i - 1 are new at that step (`sampleCodes`).
/// Cost: ~3.6 M multiply-adds per grid forward at the defaults (dense), about 55% of that with the masks' blocks skipped.
/// Provenance: Germain, Gregor, Murray, Larochelle 2015, "MADE: Masked Autoencoder for Distribution
/// Estimation" (masks from degrees, eq. 12-13); Karpathy's pytorch-made (masks multiplied into nn.Linear
/// weights); van den Oord et al. 2017 (a learned autoregressive prior over VQ-VAE codes, there a PixelCNN).
public final class CodePrior: ParameterContainer {
    public let configuration: CodePriorConfiguration
    /// Code embedding [K, E].
    let embedding: Tensor
    let hidden: [Linear]
    let output: Linear
    let readout: Linear
    /// Per-position logit bias [P, K].
    let positionBias: Tensor
    /// The masks of `hidden` and `output` as row prefixes: row r of a weight keeps its first lengths[r] columns.
    let hiddenLengths: [[Int]]
    let outputLengths: [Int]
    /// Degree of each hidden unit (the same in every hidden layer), non-decreasing.
    public let degrees: [Int]

    /// Weights from PyTorch's default initialisers (embedding N(0, 1) as nn.Embedding), masked entries zeroed.
    public init(configuration: CodePriorConfiguration, generator: inout SeededGenerator) {
        do { try configuration.validate() } catch { preconditionFailure("CodePrior: \(error)") }
        let c = configuration
        self.configuration = c
        let p = c.positions, h = c.hiddenSize
        embedding = Tensor(shape: [c.codes, c.embeddingSize], data: generator.normals(c.codes * c.embeddingSize),
                           requiresGrad: true)
        hidden = (0..<c.hiddenLayers).map { layer in
            Linear(inputSize: layer == 0 ? p * c.embeddingSize : h, outputSize: h, generator: &generator)
        }
        output = Linear(inputSize: h, outputSize: p * c.outputRank, generator: &generator)
        readout = Linear(inputSize: c.outputRank, outputSize: c.codes, generator: &generator)
        positionBias = Tensor.zeros([p, c.codes], requiresGrad: true)
        let degrees = Self.hiddenDegrees(positions: p, units: h)
        self.degrees = degrees
        // Units of degree <= d: the first `upTo[d]` (degrees are sorted).
        let upTo = (0..<p).map { d in degrees.firstIndex { $0 > d } ?? h }
        hiddenLengths = (0..<c.hiddenLayers).map { layer in
            layer == 0 ? degrees.map { ($0 + 1) * c.embeddingSize } : degrees.map { upTo[$0] }
        }
        outputLengths = (0..<(p * c.outputRank)).map { row in row / c.outputRank == 0 ? 0 : upTo[row / c.outputRank - 1] }
        for (layer, lengths) in zip(hidden + [output], hiddenLengths + [outputLengths]) {
            let columns = layer.inputSize
            for (row, length) in lengths.enumerated() {
                for column in length..<columns { layer.weight.data[row * columns + column] = 0 }
            }
        }
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("embedding", embedding)]
            + hidden.enumerated().flatMap { nested("hidden.\($0.offset)", $0.element) }
            + nested("output", output) + nested("readout", readout) + [("position_bias", positionBias)]
    }

    /// For each of `namedParameters`, the elements inside its mask (nil: all of them), for
    /// `Adam(updatedRanges:)`: a masked weight's row r contributes [r in, r in + lengths[r]).
    public var updatedRanges: [[Range<Int>]?] {
        func prefixes(_ layer: Linear, _ lengths: [Int]) -> [Range<Int>] {
            lengths.enumerated().compactMap { row, length in
                length == 0 ? nil : (row * layer.inputSize)..<(row * layer.inputSize + length)
            }
        }
        let masked = Dictionary(uniqueKeysWithValues: zip(hidden + [output], hiddenLengths + [outputLengths])
            .map { (ObjectIdentifier($0.weight), prefixes($0, $1)) })
        return namedParameters.map { masked[ObjectIdentifier($0.tensor)] }
    }

    /// m(h) = floor(h (P - 1) / H) for h in 0..<H: every degree 0...P-2 about equally often, non-decreasing.
    static func hiddenDegrees(positions: Int, units: Int) -> [Int] {
        (0..<units).map { $0 * (positions - 1) / units }
    }

    /// The masks as 0/1 weights-shaped arrays, [M_1, ..., M_L, M_o]: row r keeps its first lengths[r] columns.
    var masks: [Tensor] {
        zip(hidden + [output], hiddenLengths + [outputLengths]).map { layer, lengths in
            let columns = layer.inputSize
            var values = [Float](repeating: 0, count: lengths.count * columns)
            for (row, length) in lengths.enumerated() { for column in 0..<length { values[row * columns + column] = 1 } }
            return Tensor(shape: [lengths.count, columns], data: values)
        }
    }

    /// Logits [B * P, K] of every position of `codes` (B grids, image-major: [B * P] indices in 0..<K);
    /// row b P + i depends only on codes[b P + j] with j < i.
    public func logits(_ codes: [Int]) -> Tensor {
        let c = configuration, p = c.positions
        precondition(codes.count % p == 0 && codes.allSatisfy { (0..<c.codes).contains($0) },
                     "CodePrior.logits: \(codes.count) indices, want a multiple of \(p) in 0..<\(c.codes)")
        let batch = codes.count / p
        var x = embedding.gatheringRows(codes).reshaped([batch, p * c.embeddingSize])
        for (layer, lengths) in zip(hidden, hiddenLengths) {
            x = Tensor.prefixMaskedLinear(x, weight: layer.weight, bias: layer.bias, lengths: lengths).relu()
        }
        let s = Tensor.prefixMaskedLinear(x, weight: output.weight, bias: output.bias, lengths: outputLengths)
            .reshaped([batch * p, c.outputRank])
        return readout(s) + positionBias.gatheringRows(tiledRowIndices(count: p, times: batch))
    }

    /// -log p(grid) summed over the grids of `codes` ([B * P], image-major), in nats: a scalar to train on.
    public func negativeLogLikelihood(_ codes: [Int]) -> Tensor {
        Tensor.softmaxCrossEntropy(logits: logits(codes), labels: codes)
    }

    /// Mean -log p(grid) in nats per grid over `codes` ([B * P], image-major), evaluated `batchSize` grids at a time.
    public func meanNegativeLogLikelihood(_ codes: [Int], batchSize: Int = 1000) -> Double {
        let p = configuration.positions
        precondition(codes.count % p == 0 && codes.count > 0 && batchSize >= 1,
                     "CodePrior.meanNegativeLogLikelihood: \(codes.count) indices for \(p) positions, batch size \(batchSize)")
        let grids = codes.count / p
        var total = 0.0, start = 0
        while start < grids {
            let size = min(batchSize, grids - start)
            total += Double(negativeLogLikelihood(Array(codes[(start * p)..<((start + size) * p)])).scalar)
            start += size
        }
        return total / Double(grids)
    }

    // MARK: - Sampling

    /// `count` grids drawn by ancestral sampling, image-major: [count * P] code indices. Position by position
    /// in raster order, c_i ~ softmax(logits_i(c_<i)) (temperature 1) by inverse CDF with one uniform per
    /// (grid, position); the uniforms are drawn from `generator` up front, grid by grid, so the result does
    /// not depend on how the grids are batched.
    ///
    /// Fast path (the same function as `logits`, no autodiff graph): the first layer's pre-activations are
    /// updated incrementally with the embedding of each new code, and because degrees are sorted, step i runs
    /// the deeper layers only on the units of degree i - 1 (the others are final or not yet needed): every hidden unit
    /// is computed once per grid, about 1/30 of the products of running each step on all units of degree < i.
    /// Batches of `batchSize` grids keep the activations in cache.
    public func sampleCodes(count: Int, generator: inout SeededGenerator, batchSize: Int = 500) -> [Int] {
        precondition(count >= 0 && batchSize >= 1, "CodePrior.sampleCodes: count \(count), batch size \(batchSize)")
        let p = configuration.positions
        var uniforms = [Float](repeating: 0, count: count * p)
        for i in 0..<uniforms.count { uniforms[i] = generator.nextUniform() }
        let weights = MaskedWeights(self)
        var result = [Int](repeating: 0, count: count * p)
        var start = 0
        while start < count {
            let size = min(batchSize, count - start)
            let codes = sampleBatch(size, uniforms: uniforms[(start * p)..<((start + size) * p)], weights: weights)
            result.replaceSubrange((start * p)..<((start + size) * p), with: codes)
            start += size
        }
        return result
    }

    /// The masked weights as plain arrays, for the sampler.
    struct MaskedWeights {
        let hidden: [[Float]]
        let output: [Float]
        init(_ prior: CodePrior) {
            let masks = prior.masks
            hidden = zip(prior.hidden, masks).map { layer, mask in zip(layer.weight.data, mask.data).map(*) }
            output = zip(prior.output.weight.data, masks.last!.data).map(*)
        }
    }

    /// One batch of `n` grids from `uniforms` ([n * P], grid-major).
    private func sampleBatch(_ n: Int, uniforms: ArraySlice<Float>, weights: MaskedWeights) -> [Int] {
        let c = configuration, p = c.positions, h = c.hiddenSize, e = c.embeddingSize, r = c.outputRank, k = c.codes
        var codes = [Int](repeating: 0, count: n * p)
        let hiddenBiases = hidden.map(\.bias.data), outputBias = output.bias.data
        let readoutBias = readout.bias.data, readoutWeight = readout.weight.data
        let positionBias = positionBias.data, embedding = embedding.data
        // First-layer pre-activations [n, H]: b_1 plus the contributions of the codes sampled so far.
        var pre = [Float](repeating: 0, count: n * h)
        for row in 0..<n { for j in 0..<h { pre[row * h + j] = hiddenBiases[0][j] } }
        // Activations [n, H] of every hidden layer. Unit j (degree m(j)) depends only on positions <= m(j), so once
        // c_0...c_m are drawn its activations are final: step i computes only the units of degree i - 1, in every
        // layer, from the final units of degree <= i - 1 below (a masked weight block that is all ones).
        var activations = [[Float]](repeating: [Float](repeating: 0, count: n * h), count: hidden.count)
        var s = [Float](repeating: 0, count: n * r)
        var logits = [Float](repeating: 0, count: n * k)
        var newEmbeddings = [Float](repeating: 0, count: n * e)
        var probabilities = [Double](repeating: 0, count: k)
        let base = uniforms.startIndex
        var done = 0   // units whose activations are final in every layer
        for i in 0..<p {
            // Units of degree < i: the only ones that reach output i.
            let units = degrees.firstIndex { $0 >= i } ?? h
            if units > done {
                for row in 0..<n { for j in done..<units { activations[0][row * h + j] = max(pre[row * h + j], 0) } }
                for layer in hidden.indices.dropFirst() {
                    let below = activations[layer - 1]
                    for row in 0..<n { for j in done..<units { activations[layer][row * h + j] = hiddenBiases[layer][j] } }
                    Self.addProduct(&activations[layer], yOffset: done, ldy: h, below, ldx: h, weights.hidden[layer],
                                    offset: done * h, ldw: h, rows: n, columns: units - done, inner: units)
                    for row in 0..<n { for j in done..<units {
                        activations[layer][row * h + j] = max(activations[layer][row * h + j], 0)
                    } }
                }
                done = units
            }
            // s = b_o[i-block] + h_L[:, :units] W_o[i-block, :units]^T.
            for row in 0..<n { for j in 0..<r { s[row * r + j] = outputBias[i * r + j] } }
            if units > 0 {
                Self.addProduct(&s, ldy: r, activations[hidden.count - 1], ldx: h, weights.output, offset: i * r * h, ldw: h,
                                rows: n, columns: r, inner: units)
            }
            // logits = u + beta_i + s U^T.
            for row in 0..<n { for j in 0..<k { logits[row * k + j] = readoutBias[j] + positionBias[i * k + j] } }
            Self.addProduct(&logits, ldy: k, s, ldx: r, readoutWeight, ldw: r, rows: n, columns: k, inner: r)
            // Inverse-CDF draw per grid, in Double.
            for row in 0..<n {
                var m = logits[row * k]
                for j in 1..<k { m = max(m, logits[row * k + j]) }
                var total = 0.0
                for j in 0..<k {
                    let v = Foundation.exp(Double(logits[row * k + j] - m))
                    probabilities[j] = v
                    total += v
                }
                let target = Double(uniforms[base + row * p + i]) * total
                var code = 0, cumulative = probabilities[0]
                while code < k - 1 && target >= cumulative { code += 1; cumulative += probabilities[code] }
                codes[row * p + i] = code
                for j in 0..<e { newEmbeddings[row * e + j] = embedding[code * e + j] }
            }
            // pre += emb(c_i) W_1[:, i-block]^T (W_1 is [H, P E]; the block starts at column i E).
            if i < p - 1 {
                Self.addProduct(&pre, ldy: h, newEmbeddings, ldx: e, weights.hidden[0], offset: i * e, ldw: p * e,
                                rows: n, columns: h, inner: e)
            }
        }
        return codes
    }

    /// y[:rows, :columns] += x[:rows, :inner] w[:columns, :inner]^T (sgemm), row-major with leading dimensions
    /// `ldy`, `ldx`, `ldw`; y's columns start at `yOffset`, w at `offset`.
    private static func addProduct(_ y: inout [Float], yOffset: Int = 0, ldy: Int, _ x: [Float], ldx: Int, _ w: [Float],
                                   offset: Int = 0, ldw: Int, rows: Int, columns: Int, inner: Int) {
        w.withUnsafeBufferPointer { pw in x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
            BLAS.gemm(.none, .transposed, m: rows, n: columns, k: inner, a: px.baseAddress!, lda: ldx,
                      b: pw.baseAddress! + offset, ldb: ldw, beta: 1, c: py.baseAddress! + yOffset, ldc: ldy)
        } } }
    }
}
