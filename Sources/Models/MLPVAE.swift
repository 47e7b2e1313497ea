import Autodiff
import Layers

/// The PyTorch examples VAE and its variants (residual encoder, other z, beta-weighted KL).
///
/// Encoder: x [B, 784] -> fc1 (784 -> 400) ReLU -> [residual blocks h = h + ReLU(Linear(400, 400)(h))]
///          -> fc21 (mean), fc22 (log-variance), both 400 -> z.
/// Decoder: z -> fc3 (z -> 400) ReLU -> fc4 (400 -> 784) -> sigmoid.
/// Loss: BCE(x_hat, x) summed + beta * KL(q(z|x) || N(0, I)).
/// Provenance: pytorch/examples vae/main.py; Higgins et al. 2017 (beta-VAE).
public final class MLPVAE: GaussianVAE {
    public let configuration: ModelConfiguration
    let fc1: Linear
    let residual: [Linear]
    let fc21: Linear
    let fc22: Linear
    let fc3: Linear
    let fc4: Linear

    public init(configuration: ModelConfiguration, generator: inout SeededGenerator) {
        let c = configuration
        self.configuration = c
        // Creation order matches PyTorch's module order so that seeds mean the same thing in both.
        fc1 = Linear(inputSize: c.imageSize, outputSize: c.hiddenSize, generator: &generator)
        residual = (0..<c.residualBlocks).map { _ in Linear(inputSize: c.hiddenSize, outputSize: c.hiddenSize, generator: &generator) }
        fc21 = Linear(inputSize: c.hiddenSize, outputSize: c.latentSize, generator: &generator)
        fc22 = Linear(inputSize: c.hiddenSize, outputSize: c.latentSize, generator: &generator)
        fc3 = Linear(inputSize: c.latentSize, outputSize: c.hiddenSize, generator: &generator)
        fc4 = Linear(inputSize: c.hiddenSize, outputSize: c.imageSize, generator: &generator)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        var all = nested("encoder.fc1", fc1)
        for (i, block) in residual.enumerated() { all += nested("encoder.res\(i + 1)", block) }
        all += nested("encoder.fc21", fc21) + nested("encoder.fc22", fc22)
        all += nested("decoder.fc3", fc3) + nested("decoder.fc4", fc4)
        return all
    }

    /// Mean and log-variance of q(z|x), each [batch, z].
    public func posterior(_ images: Tensor) -> (mean: Tensor, logVariance: Tensor) {
        var h = fc1(images).relu()
        for block in residual { h = h + block(h).relu() }
        return (fc21(h), fc22(h))
    }

    /// Bernoulli logits of p(x|z), [batch, 784].
    public func decoderLogits(_ codes: Tensor) -> Tensor { fc4(fc3(codes).relu()) }
}

