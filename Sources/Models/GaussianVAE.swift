import Autodiff
import Foundation

/// A VAE with a diagonal-Gaussian posterior q(z|x), a N(0, I) prior and a Bernoulli decoder p(x|z): the MLP
/// and convolutional VAEs of the study differ only in `posterior` and `decoderLogits`, and share everything
/// else through this protocol's extension.
///
/// Loss: BCE(x_hat, x) summed + beta * KL(q(z|x) || N(0, I)), with one reparameterised z per image.
/// Provenance: Kingma & Welling 2014; pytorch/examples vae/main.py; Higgins et al. 2017 (beta).
public protocol GaussianVAE: GenerativeModel {
    /// Mean and log-variance of q(z|x), each [batch, z].
    func posterior(_ images: Tensor) -> (mean: Tensor, logVariance: Tensor)
    /// Bernoulli logits of p(x|z): [batch, z] -> [batch, imageSize].
    func decoderLogits(_ codes: Tensor) -> Tensor
}

extension GaussianVAE {
    public func encode(_ images: Tensor) -> Tensor { posterior(images).mean }

    public func decode(_ codes: Tensor) -> Tensor { decoderLogits(codes).sigmoid() }

    public func loss(_ images: Tensor, generator: inout SeededGenerator) -> LossBreakdown {
        let (mean, logVariance) = posterior(images)
        let noise = Tensor(shape: mean.shape, data: generator.normals(mean.count))
        let z = Tensor.reparameterize(mean: mean, logVariance: logVariance, noise: noise)
        let reconstruction = Tensor.binaryCrossEntropy(logits: decoderLogits(z), targets: images)
        let kl = Tensor.klDivergenceFromStandardNormal(mean: mean, logVariance: logVariance)
        let total = configuration.beta == 1 ? reconstruction + kl : reconstruction + kl.scaled(by: Float(configuration.beta))
        return LossBreakdown(total: total, reconstruction: Double(reconstruction.scalar), regularizer: Double(kl.scalar))
    }

    /// z ~ N(0, I), decoded.
    public func sample(count: Int, generator: inout SeededGenerator) -> Tensor {
        decode(Tensor(shape: [count, configuration.latentSize], data: generator.normals(count * configuration.latentSize)))
    }

    /// Per image: BCE of one reparameterised z plus the analytic KL (beta = 1 whatever the training beta), in Double;
    /// the noise [batch, z] drawn from `generator` (`negativeELBO(_:noise:)` takes it given).
    public func negativeELBO(_ images: Tensor, generator: inout SeededGenerator) -> [Double]? {
        let shape = elboNoiseShape(batch: images.shape[0])
        return negativeELBO(images, noise: Tensor(shape: shape, data: generator.normals(shape[0] * shape[1])))
    }
}
