import Autodiff
import Foundation

/// Models whose negative ELBO is a deterministic function of the images and the standard-normal noise of its
/// reparameterised codes, so that it can be compared with another implementation given the same noise (the import
/// checks against scripts/torch_models.py). `negativeELBO(_:generator:)` of these models draws exactly
/// `elboNoiseShape(batch:)` normals from the generator, row-major, and returns `negativeELBO(_:noise:)` of them.
/// The vae_std family (residual, batch-norm, beta runs: the bound is always taken with beta = 1), vae_conv and gm_vae
/// conform; WAE and VQ-VAE define no ELBO.
public protocol ExplicitNoiseELBOModel: GenerativeModel {
    /// Shape of the noise one evaluation of the bound uses for `batch` images.
    func elboNoiseShape(batch: Int) -> [Int]
    /// Per-image negative ELBO in nats (Double) of `images` [batch, imageSize] with `noise` of `elboNoiseShape(batch:)`.
    func negativeELBO(_ images: Tensor, noise: Tensor) -> [Double]
}

extension GaussianVAE {
    /// [batch, z]: one eps per image and latent dimension, z = mean + e^(lv/2) eps.
    public func elboNoiseShape(batch: Int) -> [Int] { [batch, configuration.latentSize] }

    /// Per image: BCE of logits(mean + e^(lv/2) noise) plus the analytic KL to N(0, I), in Double (beta = 1).
    public func negativeELBO(_ images: Tensor, noise: Tensor) -> [Double] {
        let batch = images.shape[0], z = configuration.latentSize, pixels = configuration.imageSize
        precondition(noise.shape == elboNoiseShape(batch: batch), "negativeELBO: noise \(noise.shape), want \(elboNoiseShape(batch: batch))")
        let (mean, logVariance) = posterior(images)
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

extension MLPVAE: ExplicitNoiseELBOModel {}
extension ConvVAE: ExplicitNoiseELBOModel {}

extension GMVAE: ExplicitNoiseELBOModel {
    /// [K * batch, z]: one eps per (component, image), row y * batch + b.
    public func elboNoiseShape(batch: Int) -> [Int] { [components * batch, configuration.latentSize] }

    /// Per image: sum_y q(y|x) [log q(y|x) - log p(y) + BCE(x, decoder(z_y)) + KL(q(z|x,y) || p(z|y))], z_y from row
    /// y * batch + b of `noise`, the sum over y exact, in Double (p(y) uniform or learned: `mixtureLogWeights`).
    public func negativeELBO(_ images: Tensor, noise: Tensor) -> [Double] {
        let batch = images.shape[0], k = components
        precondition(noise.shape == elboNoiseShape(batch: batch), "negativeELBO: noise \(noise.shape), want \(elboNoiseShape(batch: batch))")
        let t = boundTerms(images, noise: noise)
        let logQ = t.logits.data, logP = mixtureLogWeights
        var result = [Double](repeating: 0, count: batch)
        for b in 0..<batch {
            let row = logQ[(b * k)..<((b + 1) * k)].map(Double.init)
            let logNormalizer = logSumExp(row)
            var total = 0.0
            for y in 0..<k {
                let lq = row[y] - logNormalizer, q = Foundation.exp(lq)
                total += q * (lq - logP[y] + Double(t.crossEntropy.data[y * batch + b]) + Double(t.gaussianKL.data[y * batch + b]))
            }
            result[b] = total
        }
        return result
    }
}
