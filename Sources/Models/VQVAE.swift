import Autodiff
import Foundation
import Layers

/// VQ-VAE (van den Oord et al. 2017) with an EMA codebook over a 7 x 7 grid of codes, and an independent
/// per-position categorical prior for sampling.
///
/// Encoder: x [B, 784] -> [B, 1, 28, 28] -> conv1 (1 -> 32, k4 s2 p1) ReLU -> conv2 (32 -> 64, k4 s2 p1) ReLU
///          -> conv3 (64 -> D, k1, linear) -> z_e [B, D, 7, 7] -> NHWC rows [B*49, D].
/// Quantiser: each row z_e goes to its nearest codebook vector e_k (K codes of size D); the decoder sees
///          z_q = e_k and its gradient is copied to z_e (straight-through, `Tensor.vectorQuantized`).
/// Decoder: z_q [B*49, D] -> [B, D, 7, 7] -> conv (D -> 64, k3 s1 p1) ReLU -> deconv1 (64 -> 32, k4 s2 p1) ReLU
///          -> deconv2 (32 -> 1, k4 s2 p1) -> Bernoulli logits [B, 784] -> sigmoid.
/// Loss: BCE(logits, x) summed + commitment * ||z_e - sg(z_q)||^2 summed; `LossBreakdown.regularizer` is the
///          unweighted commitment term. The codebook follows the encoder by EMA (`EMACodebook`), updated in every
///          `loss` call; a code whose EMA cluster size is below 1 is re-initialised to a random encoder output of
///          the batch (seeded), so the first step fills the whole codebook from the data.
/// `encode` gives the quantised code vectors, position-major, flattened: [B, 49 * D]; `negativeELBO` is nil;
/// `sample` draws from the per-position prior stored in the checkpoint; the learned prior (`CodePrior`, a second
/// stage in its own file) decodes through `decode(codeIndices:)`. Choices (D = 16, K = 128, BCE, dead codes) and
/// what they gave: notebooks-md/models.md.
/// Provenance: van den Oord et al. 2017 (sections 3.1-3.2, appendix A.1 for the EMA update); Sonnet's
/// `VectorQuantizerEMA` (Laplace smoothing of cluster sizes, eps 1e-5); Dhariwal et al. 2020 (Jukebox) for
/// re-initialising dead codes from encoder outputs.
public final class VQVAE: GenerativeModel {
    /// Side of the code grid: 28 pixels halved twice.
    public static let gridSide = 7
    /// Code positions per image: 7 x 7 = 49.
    public static let positions = gridSide * gridSide
    /// Image side in pixels; the architecture needs 28 x 28 images.
    public static let imageSide = 28

    public let configuration: ModelConfiguration
    public var isTraining = false
    let conv1: Conv2D
    let conv2: Conv2D
    let conv3: Conv2D
    let decoderConv: Conv2D
    let deconv1: ConvTranspose2D
    let deconv2: ConvTranspose2D
    /// The codebook and its EMA statistics.
    let quantizer: EMACodebook
    /// The prior over code grids used by `sample`, fitted in `finishTraining`.
    let prior: any CodeGridPrior

    public init(configuration: ModelConfiguration, generator: inout SeededGenerator) {
        let c = configuration
        precondition(c.imageSize == Self.imageSide * Self.imageSide,
                     "VQVAE needs \(Self.imageSide)x\(Self.imageSide) images (imageSize \(Self.imageSide * Self.imageSide)), got imageSize \(c.imageSize)")
        self.configuration = c
        let d = c.codeSize
        conv1 = Conv2D(inputChannels: 1, outputChannels: 32, kernelSize: 4, stride: 2, padding: 1, generator: &generator)
        conv2 = Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 4, stride: 2, padding: 1, generator: &generator)
        conv3 = Conv2D(inputChannels: 64, outputChannels: d, kernelSize: 1, generator: &generator)
        decoderConv = Conv2D(inputChannels: d, outputChannels: 64, kernelSize: 3, stride: 1, padding: 1, generator: &generator)
        deconv1 = ConvTranspose2D(inputChannels: 64, outputChannels: 32, kernelSize: 4, stride: 2, padding: 1, generator: &generator)
        deconv2 = ConvTranspose2D(inputChannels: 32, outputChannels: 1, kernelSize: 4, stride: 2, padding: 1, generator: &generator)
        quantizer = EMACodebook(codes: c.codebookSize, size: d, decay: Float(c.codebookDecay), generator: &generator)
        prior = PerPositionCategoricalPrior(positions: Self.positions, codes: c.codebookSize)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        nested("encoder.conv1", conv1) + nested("encoder.conv2", conv2) + nested("encoder.conv3", conv3)
            + nested("decoder.conv1", decoderConv) + nested("decoder.deconv1", deconv1) + nested("decoder.deconv2", deconv2)
    }

    /// `quantizer.codebook` [K, D], `quantizer.cluster_size` [K], `quantizer.embedding_sum` [K, D],
    /// `prior.probabilities` [49, K].
    public var namedBuffers: [(name: String, tensor: Tensor)] {
        quantizer.namedBuffers.map { ("quantizer." + $0.name, $0.tensor) }
            + prior.namedBuffers.map { ("prior." + $0.name, $0.tensor) }
    }

    /// The codebook [K, D] (a buffer: learned by EMA, not by the optimizer).
    public var codebook: Tensor { quantizer.codebook }

    /// Encoder outputs z_e, one row per code position, position-major: [B * 49, D].
    public func encoderOutputs(_ images: Tensor) -> Tensor {
        precondition(images.rank == 2 && images.shape[1] == configuration.imageSize,
                     "VQVAE: images \(images.shape), want [batch, \(configuration.imageSize)]")
        let batch = images.shape[0]
        let x = images.reshaped([batch, 1, Self.imageSide, Self.imageSide])
        let z = conv3(conv2(conv1(x).relu()).relu())                       // [B, D, 7, 7]
        return z.permuted([0, 2, 3, 1]).reshaped([batch * Self.positions, configuration.codeSize])
    }

    /// Bernoulli logits [B, 784] of quantised code rows [B * 49, D] (position-major).
    public func decoderLogits(_ codeRows: Tensor) -> Tensor {
        let d = configuration.codeSize
        precondition(codeRows.rank == 2 && codeRows.shape[1] == d && codeRows.shape[0] % Self.positions == 0,
                     "VQVAE: code rows \(codeRows.shape), want [batch * \(Self.positions), \(d)]")
        let batch = codeRows.shape[0] / Self.positions
        let grid = codeRows.reshaped([batch, Self.gridSide, Self.gridSide, d]).permuted([0, 3, 1, 2])
        let h = deconv1(decoderConv(grid).relu()).relu()
        return deconv2(h).reshaped([batch, configuration.imageSize])
    }

    /// The code index (0..<K) of every position of every image, image-major: [B * 49]. Evaluates in
    /// batches of `batchSize` images.
    public func codeIndices(_ images: Tensor, batchSize: Int = 1000) -> [Int] {
        let count = images.shape[0], pixels = configuration.imageSize
        var indices: [Int] = []
        indices.reserveCapacity(count * Self.positions)
        var start = 0
        while start < count {
            let size = min(batchSize, count - start)
            let batch = size == count ? images
                : Tensor(shape: [size, pixels], data: Array(images.data[(start * pixels)..<((start + size) * pixels)]))
            indices += Tensor.nearestCodeIndices(encoderOutputs(batch), codebook: quantizer.codebook)
            start += size
        }
        return indices
    }

    /// The quantised code vectors, position-major, flattened: [B, 49 * D].
    public func encode(_ images: Tensor) -> Tensor {
        let z = encoderOutputs(images)
        let (q, _) = Tensor.vectorQuantized(z, codebook: quantizer.codebook)
        return q.reshaped([images.shape[0], Self.positions * configuration.codeSize])
    }

    /// Pixel probabilities of codes as `encode` gives them: [B, 49 * D] -> [B, 784].
    public func decode(_ codes: Tensor) -> Tensor {
        let width = Self.positions * configuration.codeSize
        precondition(codes.rank == 2 && codes.shape[1] == width, "VQVAE.decode: codes \(codes.shape), want [batch, \(width)]")
        return decoderLogits(codes.reshaped([codes.shape[0] * Self.positions, configuration.codeSize])).sigmoid()
    }

    /// The training loss; also the training step of the codebook: revives dead codes (drawing from
    /// `generator`), assigns each z_e to its nearest code, then moves the codebook by EMA towards the
    /// vectors assigned to it. The batch is quantised with the codebook as it was before the EMA update.
    public func loss(_ images: Tensor, generator: inout SeededGenerator) -> LossBreakdown {
        let z = encoderOutputs(images)
        quantizer.reinitializeDeadCodes(from: z, generator: &generator)
        let (q, indices) = Tensor.vectorQuantized(z, codebook: quantizer.codebook)
        let reconstruction = Tensor.binaryCrossEntropy(logits: decoderLogits(q), targets: images)
        let commitment = Tensor.squaredError(z, q.detached())
        quantizer.update(vectors: z, indices: indices)
        let total = reconstruction + commitment.scaled(by: Float(configuration.commitment))
        return LossBreakdown(total: total, reconstruction: Double(reconstruction.scalar),
                             regularizer: Double(commitment.scalar))
    }

    /// Pixel probabilities [count, 784] of code-index grids ([count * 49], image-major, each in 0..<K), decoded
    /// `batchSize` grids at a time: e.g. the grids a `CodePrior` samples.
    public func decode(codeIndices: [Int], batchSize: Int = 500) -> Tensor {
        let p = Self.positions, width = p * configuration.codeSize, pixels = configuration.imageSize
        precondition(codeIndices.count % p == 0 && batchSize >= 1,
                     "VQVAE.decode(codeIndices:): \(codeIndices.count) indices is not a whole number of \(p)-position grids")
        let count = codeIndices.count / p
        var values: [Float] = []
        values.reserveCapacity(count * pixels)
        var start = 0
        while start < count {
            let size = min(batchSize, count - start)
            let vectors = quantizer.vectors(of: Array(codeIndices[(start * p)..<((start + size) * p)]))
            values += decode(vectors.reshaped([size, width])).data
            start += size
        }
        return Tensor(shape: [count, pixels], data: values)
    }

    /// Draws a code grid from the per-position prior for each sample and decodes it.
    public func sample(count: Int, generator: inout SeededGenerator) -> Tensor {
        decode(codeIndices: prior.sample(count: count, generator: &generator))
    }

    public func negativeELBO(_ images: Tensor, generator: inout SeededGenerator) -> [Double]? { nil }

    /// Fits the prior to the codes of the training images.
    public func finishTraining(images: Tensor, generator: inout SeededGenerator) {
        prior.fit(codes: codeIndices(images), images: images.shape[0])
    }

    /// `codes_in_use`: distinct codes chosen at any position of `images`; `code_perplexity`: exp of the
    /// entropy (nats) of the code usage distribution over all positions (K for uniform use, 1 for one code).
    public func diagnostics(images: Tensor, labels: [UInt8]) -> [String: Double] {
        let usage = Self.usageStatistics(codeIndices(images), codes: configuration.codebookSize)
        return ["codes_in_use": Double(usage.inUse), "code_perplexity": usage.perplexity]
    }

    /// Codes used at least once, and exp(entropy) of the usage frequencies, of `indices` into K codes.
    static func usageStatistics(_ indices: [Int], codes: Int) -> (inUse: Int, perplexity: Double) {
        var counts = [Int](repeating: 0, count: codes)
        for i in indices { counts[i] += 1 }
        let total = Double(indices.count)
        var entropy = 0.0
        for c in counts where c > 0 { let p = Double(c) / total; entropy -= p * Foundation.log(p) }
        return (counts.filter { $0 > 0 }.count, Foundation.exp(entropy))
    }
}
