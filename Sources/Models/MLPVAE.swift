import Autodiff
import Layers

/// The PyTorch examples VAE and its variants (residual encoder, other z, beta-weighted KL).
///
/// Encoder: x [B, 784] -> fc1 (784 -> 400) ReLU -> [residual blocks h = h + ReLU(Linear(400, 400)(h))]
///          -> fc21 (mean), fc22 (log-variance), both 400 -> z.
/// Decoder: z -> fc3 (z -> 400) ReLU -> fc4 (400 -> 784) -> sigmoid.
/// With `batchNorm`, a BatchNorm1d(400) sits after each hidden linear layer, before its ReLU: `encoder.fc1_bn` after
/// fc1, `encoder.res<i>_bn` inside each residual block, `decoder.fc3_bn` after fc3 (none after fc21, fc22, fc4).
/// Loss: BCE(x_hat, x) summed + beta * KL(q(z|x) || N(0, I)).
/// Provenance: pytorch/examples vae/main.py; Higgins et al. 2017 (beta-VAE); Ioffe & Szegedy 2015 (batch norm).
public final class MLPVAE: GaussianVAE {
    public let configuration: ModelConfiguration
    public var isTraining = false
    let fc1: Linear
    let residual: [Linear]
    let fc21: Linear
    let fc22: Linear
    let fc3: Linear
    let fc4: Linear
    /// With `batchNorm`: after fc1, after each residual block's linear layer, after fc3; else empty.
    let fc1Norm: BatchNorm?
    let residualNorms: [BatchNorm]
    let fc3Norm: BatchNorm?

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
        // Batch norm draws nothing from the generator (weight 1, bias 0).
        func norm() -> BatchNorm { BatchNorm(features: c.hiddenSize, dimensions: .one) }
        fc1Norm = c.batchNorm ? norm() : nil
        residualNorms = c.batchNorm ? (0..<c.residualBlocks).map { _ in norm() } : []
        fc3Norm = c.batchNorm ? norm() : nil
    }

    /// The batch-norm layers under their module paths.
    var batchNorms: [(name: String, layer: BatchNorm)] {
        var all: [(name: String, layer: BatchNorm)] = []
        if let fc1Norm { all.append(("encoder.fc1_bn", fc1Norm)) }
        for (i, layer) in residualNorms.enumerated() { all.append(("encoder.res\(i + 1)_bn", layer)) }
        if let fc3Norm { all.append(("decoder.fc3_bn", fc3Norm)) }
        return all
    }

    public var namedBuffers: [(name: String, tensor: Tensor)] { BatchNorm.namedBuffers(of: batchNorms) }

    public var namedCounters: [(name: String, counter: BatchCounter)] { BatchNorm.namedCounters(of: batchNorms) }

    public var minimumTrainingBatchSize: Int { configuration.batchNorm ? 2 : 1 }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        var all = nested("encoder.fc1", fc1)
        for (i, block) in residual.enumerated() { all += nested("encoder.res\(i + 1)", block) }
        all += nested("encoder.fc21", fc21) + nested("encoder.fc22", fc22)
        all += nested("decoder.fc3", fc3) + nested("decoder.fc4", fc4)
        for (name, layer) in batchNorms { all += nested(name, layer) }
        return all
    }

    /// Mean and log-variance of q(z|x), each [batch, z].
    public func posterior(_ images: Tensor) -> (mean: Tensor, logVariance: Tensor) {
        var h = normalized(fc1(images), fc1Norm).relu()
        for (i, block) in residual.enumerated() {
            h = h + normalized(block(h), residualNorms.isEmpty ? nil : residualNorms[i]).relu()
        }
        return (fc21(h), fc22(h))
    }

    /// Bernoulli logits of p(x|z), [batch, 784].
    public func decoderLogits(_ codes: Tensor) -> Tensor { fc4(normalized(fc3(codes), fc3Norm).relu()) }
}

