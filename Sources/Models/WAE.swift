import Autodiff
import Layers

/// The Wasserstein auto-encoder with an MMD penalty (WAE-MMD, Tolstikhin et al. 2018), run `wae`.
///
/// Encoder (deterministic): x [B, 784] -> fc1 (784 -> 400) ReLU -> fc2 (400 -> z), the code itself.
/// Decoder: z -> fc3 (z -> 400) ReLU -> fc4 (400 -> 784) -> sigmoid, as `MLPVAE`.
/// Loss of a batch of n images with codes q_i = enc(x_i) and n prior draws p_i ~ N(0, I) (from `generator`):
///
///     sum over images and pixels of (sigmoid(dec(q_i)) - x_i)^2  +  lambda * n * MMD^2(q, p)
///
/// with the unbiased MMD^2 estimate under the IMQ kernel k(a, b) = C / (C + ||a - b||^2) summed over
/// C in [.1, .2, .5, 1, 2, 5, 10] * 2 z sigma^2 (sigma = 1) (`Tensor.inverseMultiquadraticMMD`), and
/// lambda = `configuration.mmdWeight` (10).
///
/// The MMD (a mean over pairs) is multiplied by n so that the loss is n times the paper's per-image objective and the
/// balance of the terms does not depend on the batch size (why, and the reference code's weighting: models.md).
/// `LossBreakdown.reconstruction` is the summed squared error; `regularizer` is n * MMD^2 (so the trainer's per-image
/// epoch figure is the batch MMD^2 itself), and total = reconstruction + lambda * regularizer. The unbiased
/// estimate can be slightly negative once the codes match the prior.
/// There is no likelihood, hence no ELBO: `negativeELBO` is nil.
/// Provenance: Tolstikhin, Bousquet, Gelly, Schoelkopf, "Wasserstein Auto-Encoders", ICLR 2018, Algorithm 2.
public final class WAE: GenerativeModel {
    public let configuration: ModelConfiguration
    public var isTraining = false
    let fc1: Linear
    let fc2: Linear
    let fc3: Linear
    let fc4: Linear

    /// Scales of the IMQ kernel constant C, relative to 2 z sigma^2 (the reference implementation's list).
    public static let kernelScales: [Float] = [0.1, 0.2, 0.5, 1, 2, 5, 10]
    /// Variance sigma^2 of the prior N(0, sigma^2 I).
    public static let priorVariance: Float = 1

    public init(configuration: ModelConfiguration, generator: inout SeededGenerator) {
        let c = configuration
        self.configuration = c
        fc1 = Linear(inputSize: c.imageSize, outputSize: c.hiddenSize, generator: &generator)
        fc2 = Linear(inputSize: c.hiddenSize, outputSize: c.latentSize, generator: &generator)
        fc3 = Linear(inputSize: c.latentSize, outputSize: c.hiddenSize, generator: &generator)
        fc4 = Linear(inputSize: c.hiddenSize, outputSize: c.imageSize, generator: &generator)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        nested("encoder.fc1", fc1) + nested("encoder.fc2", fc2) + nested("decoder.fc3", fc3) + nested("decoder.fc4", fc4)
    }

    /// The IMQ kernel constants C = scale * 2 z sigma^2.
    public var kernelConstants: [Float] {
        Self.kernelScales.map { $0 * 2 * Float(configuration.latentSize) * Self.priorVariance }
    }

    public func encode(_ images: Tensor) -> Tensor { fc2(fc1(images).relu()) }

    public func decode(_ codes: Tensor) -> Tensor { fc4(fc3(codes).relu()).sigmoid() }

    public func loss(_ images: Tensor, generator: inout SeededGenerator) -> LossBreakdown {
        let codes = encode(images)
        let batch = codes.shape[0]
        let reconstruction = Tensor.squaredError(decode(codes), images)
        let prior = Tensor(shape: codes.shape, data: generator.normals(codes.count).map { $0 * Self.priorVariance.squareRoot() })
        // The unbiased estimate needs two codes; a batch of one (a last, ragged batch) gets no penalty.
        let regularizer = batch < 2 ? Tensor.zeros([])
            : Tensor.inverseMultiquadraticMMD(codes, prior, constants: kernelConstants).scaled(by: Float(batch))
        let total = reconstruction + regularizer.scaled(by: Float(configuration.mmdWeight))
        return LossBreakdown(total: total, reconstruction: Double(reconstruction.scalar), regularizer: Double(regularizer.scalar))
    }

    public func sample(count: Int, generator: inout SeededGenerator) -> Tensor {
        let z = configuration.latentSize
        return decode(Tensor(shape: [count, z], data: generator.normals(count * z).map { $0 * Self.priorVariance.squareRoot() }))
    }

    public func negativeELBO(_ images: Tensor, generator: inout SeededGenerator) -> [Double]? { nil }
}
