import Autodiff
import Foundation

/// Models with a continuous latent code per image. Burda et al.'s active units are measured on E_q[z|x].
public protocol ContinuousLatentModel: GenerativeModel {
    /// E_q[z|x]: [batch, imageSize] -> [batch, latentSize].
    func posteriorMean(_ images: Tensor) -> Tensor
}

/// Models whose encoder, prior and decoder all define densities, so log p(x) can be estimated by importance
/// sampling with the encoder as proposal (the IWAE bound, Burda, Grosse & Salakhutdinov 2016):
/// log p(x) >= E[log (1/k) sum_i w_i], w_i = p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x); it rises with k to log p(x).
public protocol ImportanceWeightedModel: ContinuousLatentModel {
    /// log w_i in nats (Double) for `samples` draws z_i ~ q(z|x) per image, p(x|z) the Bernoulli decoder:
    /// [samples * batch], draw s of image b at s * batch + b (the draws of each image are drawn in order, image by
    /// image, from `generator`).
    func logImportanceWeights(_ images: Tensor, samples: Int, generator: inout SeededGenerator) -> [Double]
}

/// log N(z; m, e^lv) summed over dimensions, in Double.
@inline(__always)
func logGaussian(_ z: UnsafeBufferPointer<Double>, mean: (Int) -> Double, logVariance: (Int) -> Double) -> Double {
    var total = 0.0
    for j in 0..<z.count {
        let lv = logVariance(j), d = z[j] - mean(j)
        total += -0.5 * (log(2 * Double.pi) + lv + d * d * exp(-lv))
    }
    return total
}

/// log sum_i exp(values_i), stable.
public func logSumExp(_ values: some Collection<Double>) -> Double {
    guard let m = values.max(), m.isFinite else { return values.max() ?? -.infinity }
    return m + log(values.reduce(0) { $0 + exp($1 - m) })
}

/// log p(x|z) of a Bernoulli decoder for every row of `codes` [samples * batch, z], row s * batch + b scored
/// against image b: minus the summed binary cross-entropy of the logits.
func bernoulliLogLikelihoods(_ logits: Tensor, images: Tensor) -> [Double] {
    Tensor.binaryCrossEntropyPerRow(logits: logits, targets: images).data.map { -Double($0) }
}

/// z = m + e^(lv / 2) eps, eps ~ N(0, I) from `generator`, for row `row` of `mean` and `logVariance` [rows, z]; the
/// Float code goes to `codes[at ..< at + z]` (the decoder's input), the Double one is returned (for the densities).
func drawGaussian(mean: Tensor, logVariance: Tensor, row: Int, generator: inout SeededGenerator,
                  into codes: inout [Float], at: Int) -> [Double] {
    let zSize = mean.shape[1]
    let eps = generator.normals(zSize)
    return (0..<zSize).map { j in
        let z = Double(mean.data[row * zSize + j]) + exp(0.5 * Double(logVariance.data[row * zSize + j])) * Double(eps[j])
        codes[at + j] = Float(z)
        return z
    }
}

/// log w = log p(x|z) + log p(z) - log q(z|x) for `samples` draws z ~ q(z|x) = N(mean, e^logVariance) per image
/// ([batch, z] each), in the order of `ImportanceWeightedModel.logImportanceWeights`; `logPrior` gives log p(z).
func gaussianProposalLogWeights(_ images: Tensor, mean: Tensor, logVariance: Tensor, samples: Int,
                                generator: inout SeededGenerator, logPrior prior: (UnsafeBufferPointer<Double>) -> Double,
                                decoderLogits: (Tensor) -> Tensor) -> [Double] {
    let batch = images.shape[0], zSize = mean.shape[1]
    var codes = [Float](repeating: 0, count: batch * samples * zSize)
    var logPrior = [Double](repeating: 0, count: batch * samples), logProposal = logPrior
    for b in 0..<batch {
        for s in 0..<samples {
            let z = drawGaussian(mean: mean, logVariance: logVariance, row: b, generator: &generator,
                                 into: &codes, at: (s * batch + b) * zSize)
            z.withUnsafeBufferPointer { z in
                logPrior[s * batch + b] = prior(z)
                logProposal[s * batch + b] = logGaussian(z, mean: { Double(mean.data[b * zSize + $0]) },
                                                           logVariance: { Double(logVariance.data[b * zSize + $0]) })
            }
        }
    }
    let logLikelihood = bernoulliLogLikelihoods(decoderLogits(Tensor(shape: [batch * samples, zSize], data: codes)),
                                                images: images)
    return (0..<(batch * samples)).map { logLikelihood[$0] + logPrior[$0] - logProposal[$0] }
}

extension GaussianVAE {
    public func posteriorMean(_ images: Tensor) -> Tensor { posterior(images).mean }

    /// w = p(x|z) N(z; 0, I) / q(z|x), z = mean + e^(lv/2) eps.
    public func logImportanceWeights(_ images: Tensor, samples: Int, generator: inout SeededGenerator) -> [Double] {
        let (mean, logVariance) = posterior(images)
        return gaussianProposalLogWeights(images, mean: mean, logVariance: logVariance, samples: samples, generator: &generator,
                                          logPrior: { logGaussian($0, mean: { _ in 0 }, logVariance: { _ in 0 }) },
                                          decoderLogits: decoderLogits)
    }
}

extension MLPVAE: ImportanceWeightedModel {}
extension ConvVAE: ImportanceWeightedModel {}

extension WAE: ContinuousLatentModel {
    /// The deterministic code.
    public func posteriorMean(_ images: Tensor) -> Tensor { encode(images) }
}

extension GMVAE: ImportanceWeightedModel {
    /// E_q[z|x] = sum_y q(y|x) mean(q(z|x,y)).
    public func posteriorMean(_ images: Tensor) -> Tensor {
        let batch = images.shape[0], k = components, zSize = configuration.latentSize
        let q = componentProbabilities(images).data, means = componentPosteriors(images).mean.data
        var result = [Float](repeating: 0, count: batch * zSize)
        for b in 0..<batch {
            for y in 0..<k {
                for j in 0..<zSize { result[b * zSize + j] += q[b * k + y] * means[(y * batch + b) * zSize + j] }
            }
        }
        return Tensor(shape: [batch, zSize], data: result)
    }

    /// Proposal q(z|x) = sum_y q(y|x) q(z|x,y), sampled as y ~ q(y|x) then z ~ q(z|x,y); prior
    /// p(z) = sum_y p(y) p(z|y): w = p(x|z) p(z) / q(z|x), with y summed out of both densities.
    public func logImportanceWeights(_ images: Tensor, samples: Int, generator: inout SeededGenerator) -> [Double] {
        let batch = images.shape[0], k = components, zSize = configuration.latentSize
        let logits = componentLogits(images).data, logP = mixtureLogWeights
        let (mean, logVariance) = componentPosteriors(images)
        var codes = [Float](repeating: 0, count: batch * samples * zSize)
        var logPrior = [Double](repeating: 0, count: batch * samples), logProposal = logPrior
        for b in 0..<batch {
            let row = (0..<k).map { Double(logits[b * k + $0]) }
            let normalizer = logSumExp(row)
            let logQY = row.map { $0 - normalizer }
            let cumulative = logQY.map(exp).reduce(into: [Double]()) { $0.append(($0.last ?? 0) + $1) }
            for s in 0..<samples {
                let u = Double(generator.nextUniform()) * cumulative[k - 1]
                let y = cumulative.firstIndex { u < $0 } ?? (k - 1)
                let z = drawGaussian(mean: mean, logVariance: logVariance, row: y * batch + b, generator: &generator,
                                     into: &codes, at: (s * batch + b) * zSize)
                z.withUnsafeBufferPointer { z in
                    logProposal[s * batch + b] = logSumExp((0..<k).map { c in
                        logQY[c] + logGaussian(z, mean: { Double(mean.data[(c * batch + b) * zSize + $0]) },
                                               logVariance: { Double(logVariance.data[(c * batch + b) * zSize + $0]) })
                    })
                    logPrior[s * batch + b] = prior.logDensity(z, logP: logP)
                }
            }
        }
        let logLikelihood = bernoulliLogLikelihoods(decoderLogits(Tensor(shape: [batch * samples, zSize], data: codes)),
                                                    images: images)
        return (0..<(batch * samples)).map { logLikelihood[$0] + logPrior[$0] - logProposal[$0] }
    }
}
