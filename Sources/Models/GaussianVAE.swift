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

    /// Per image: BCE of one reparameterised z plus the analytic KL (beta = 1 whatever the training beta), in Double.
    public func negativeELBO(_ images: Tensor, generator: inout SeededGenerator) -> [Double]? {
        let (mean, logVariance) = posterior(images)
        let batch = images.shape[0], z = configuration.latentSize, pixels = configuration.imageSize
        let noise = Tensor(shape: mean.shape, data: generator.normals(mean.count))
        let codes = Tensor.reparameterize(mean: mean, logVariance: logVariance, noise: noise)
        let logits = decoderLogits(codes).data
        var result = [Double](repeating: 0, count: batch)
        for b in 0..<batch {
            var nll = 0.0
            for p in 0..<pixels {
                let l = Double(logits[b * pixels + p]), t = Double(images.data[b * pixels + p])
                nll += max(l, 0) - l * t + log1p(Foundation.exp(-abs(l)))
            }
            var kl = 0.0
            for j in 0..<z {
                let m = Double(mean.data[b * z + j]), lv = Double(logVariance.data[b * z + j])
                kl += -0.5 * (1 + lv - m * m - Foundation.exp(lv))
            }
            result[b] = nll + kl
        }
        return result
    }
}
