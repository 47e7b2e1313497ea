import Autodiff
import Layers

/// The loss of one batch, broken down as pythae's ModelOutput: `total` is what training
/// differentiates, `reconstruction + regularizerWeight * regularizer` for the VAE family.
/// All values are sums over the batch (PyTorch's reduction="sum").
public struct LossBreakdown {
    /// Scalar tensor to call `backward()` on.
    public let total: Tensor
    /// Reconstruction term (e.g. BCE summed over pixels and images).
    public let reconstruction: Double
    /// Regulariser before weighting (KL, MMD, ...).
    public let regularizer: Double

    public init(total: Tensor, reconstruction: Double, regularizer: Double) {
        self.total = total; self.reconstruction = reconstruction; self.regularizer = regularizer
    }
}

/// What every model of the study provides. Images are flattened rows of `imageSize` pixels in [0, 1].
public protocol GenerativeModel: ParameterContainer {
    var configuration: ModelConfiguration { get }

    /// Whether layers that behave differently in training (batch normalisation) use their training behaviour
    /// (PyTorch's `module.training`). False from creation on: every path but the training step (`whileTraining`)
    /// evaluates.
    var isTraining: Bool { get set }

    /// The loss of a batch `images` [batch, imageSize]; draws its noise from `generator`.
    func loss(_ images: Tensor, generator: inout SeededGenerator) -> LossBreakdown

    /// Deterministic codes used for reconstruction (the mean of q(z|x)): [batch, imageSize] -> [batch, latent].
    func encode(_ images: Tensor) -> Tensor

    /// Pixel probabilities in [0, 1]: [batch, latent] -> [batch, imageSize].
    func decode(_ codes: Tensor) -> Tensor

    /// `count` samples from the model's prior, decoded: [count, imageSize] in [0, 1].
    func sample(count: Int, generator: inout SeededGenerator) -> Tensor

    /// Per-image negative ELBO in nats with one sampled z and an analytic KL, or nil where the model
    /// defines no likelihood bound.
    func negativeELBO(_ images: Tensor, generator: inout SeededGenerator) -> [Double]?

    /// Non-trainable state saved with the model (PyTorch's buffers): EMA codebook statistics, fitted
    /// priors. Never handed to the optimizer. Default: none.
    var namedBuffers: [(name: String, tensor: Tensor)] { get }

    /// The fewest images a training batch may hold (2 with batch norm, whose batch variance needs two). Default: 1.
    var minimumTrainingBatchSize: Int { get }

    /// Non-trainable int64 state saved with the model (batch norm's `num_batches_tracked`). Default: none.
    var namedCounters: [(name: String, counter: BatchCounter)] { get }

    /// Called once after the last epoch, before the final checkpoint is written, with the training images
    /// [count, imageSize]: e.g. to fit a prior over discrete codes. Default: nothing.
    func finishTraining(images: Tensor, generator: inout SeededGenerator)

    /// Model-specific figures for the results (clusters in use, code perplexity, ...), measured on
    /// `images` [count, imageSize] with their `labels`. Default: none.
    func diagnostics(images: Tensor, labels: [UInt8]) -> [String: Double]
}

extension GenerativeModel {
    /// decode(encode(x)).
    public func reconstruct(_ images: Tensor) -> Tensor { decode(encode(images)) }

    public var namedBuffers: [(name: String, tensor: Tensor)] { [] }

    public var namedCounters: [(name: String, counter: BatchCounter)] { [] }

    public var minimumTrainingBatchSize: Int { 1 }

    /// Runs `body` (a training step's forward pass) in training mode, and returns the model to evaluation mode.
    public func whileTraining<R>(_ body: () throws -> R) rethrows -> R {
        isTraining = true
        defer { isTraining = false }
        return try body()
    }

    /// `norm(x)` in the model's mode (`isTraining`), or x for a model built without that batch norm.
    func normalized(_ x: Tensor, _ norm: BatchNorm?) -> Tensor { norm.map { $0(x, training: isTraining) } ?? x }

    public func finishTraining(images: Tensor, generator: inout SeededGenerator) {}

    public func diagnostics(images: Tensor, labels: [UInt8]) -> [String: Double] { [:] }
}
