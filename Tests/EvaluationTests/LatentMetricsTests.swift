import Autodiff
import Evaluation
import Foundation
import Models
import Testing

/// The importance-weighted log-likelihood against an exact marginal likelihood integrated numerically, and the
/// active-unit count against a direct two-pass variance.
@Suite struct LatentMetricsTests {
    /// log p(x) = log integral p(x|z) p(z) dz over a one-dimensional z, by the trapezoid rule on [-12, 12] with
    /// 48,001 points, the decoder's Bernoulli log-likelihood summed in Double (an independent computation: no
    /// sampling, no proposal).
    static func exactLogLikelihood(image: [Float], decoderLogits: (Tensor) -> Tensor,
                                   logPrior: (Double) -> Double) -> Double {
        let points = 48_001, low = -12.0, step = 24.0 / Double(points - 1)
        let zs = (0..<points).map { low + Double($0) * step }
        let logits = decoderLogits(Tensor(shape: [points, 1], data: zs.map { Float($0) })).data
        let pixels = image.count
        let terms: [Double] = (0..<points).map { i in
            var logLikelihood = 0.0
            for p in 0..<pixels {
                let l = Double(logits[i * pixels + p]), x = Double(image[p])
                logLikelihood -= max(l, 0) - l * x + log1p(exp(-abs(l)))
            }
            let weight = (i == 0 || i == points - 1) ? 0.5 : 1.0
            return logLikelihood + logPrior(zs[i]) + log(weight * step)
        }
        return logSumExp(terms)
    }

    static func images(_ count: Int, pixels: Int, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return (0..<(count * pixels)).map { _ in g.nextUniform() }
    }

    static func logNormal(_ z: Double, _ mean: Double, _ logVariance: Double) -> Double {
        -0.5 * (log(2 * Double.pi) + logVariance + (z - mean) * (z - mean) * exp(-logVariance))
    }

    /// A 4-pixel Gaussian VAE with one latent dimension: with k = 5000 the IWAE estimate is within 0.02 nats of the
    /// exact log p(x) for each image (the bound's gap and its sampling noise are both far below that here), below it
    /// on average, and above the ELBO.
    @Test func gaussianVAEMatchesTheExactMarginal() throws {
        var g = SeededGenerator(seed: 21)
        let model = try #require(try ModelFactory.make(ModelConfiguration(kind: .mlpVAE, imageSize: 4, hiddenSize: 3, latentSize: 1),
                                                        generator: &g) as? MLPVAE)
        let count = 6, data = Self.images(count, pixels: 4, seed: 3)
        var gaps: [Double] = []
        for b in 0..<count {
            let image = Array(data[(b * 4)..<((b + 1) * 4)])
            let exact = Self.exactLogLikelihood(image: image, decoderLogits: model.decoderLogits,
                                                logPrior: { Self.logNormal($0, 0, 0) })
            let estimate = LatentMetrics.logLikelihood(model, images: image + image, count: 2, samples: 5000, seed: UInt64(b))
            #expect(abs(estimate.meanNats - exact) < 0.02, "image \(b): IWAE \(estimate.meanNats), exact \(exact)")
            gaps.append(exact - estimate.meanNats)
        }
        #expect(gaps.reduce(0, +) > -0.005, "IWAE above log p(x) on average: gaps \(gaps)")
        // Above the ELBO (averaged over many one-sample draws, so its own noise is small).
        let iwae = LatentMetrics.logLikelihood(model, images: data, count: count, samples: 2000, seed: 9).meanNats
        var noise = SeededGenerator(seed: 4)
        let draws = 400
        let elbo = -(0..<draws).map { _ in model.negativeELBO(Tensor(shape: [count, 4], data: data), generator: &noise)!
            .reduce(0, +) / Double(count) }.reduce(0, +) / Double(draws)
        #expect(iwae > elbo, "IWAE \(iwae) vs ELBO \(elbo)")
    }

    /// The same with the GM-VAE's mixture prior and mixture proposal (K = 2 components, one latent dimension).
    @Test func gmVAEMatchesTheExactMarginal() throws {
        var g = SeededGenerator(seed: 5)
        var configuration = ModelConfiguration(kind: .gmVAE, imageSize: 4, hiddenSize: 3, latentSize: 1)
        configuration.mixtureComponents = 2
        let model = try #require(try ModelFactory.make(configuration, generator: &g) as? GMVAE)
        let means = model.priorMeans.data.map(Double.init), logVariances = model.priorLogVariances.data.map(Double.init)
        let data = Self.images(4, pixels: 4, seed: 8)
        for b in 0..<4 {
            let image = Array(data[(b * 4)..<((b + 1) * 4)])
            let exact = Self.exactLogLikelihood(image: image, decoderLogits: model.decoderLogits, logPrior: { z in
                logSumExp((0..<2).map { -log(2.0) + Self.logNormal(z, means[$0], logVariances[$0]) })
            })
            let estimate = LatentMetrics.logLikelihood(model, images: image + image, count: 2, samples: 5000, seed: UInt64(b))
            #expect(abs(estimate.meanNats - exact) < 0.02, "image \(b): IWAE \(estimate.meanNats), exact \(exact)")
        }
    }

    /// Batching changes nothing but the rounding of the products: small and large batches agree, and the standard
    /// error is the spread over images.
    @Test func estimateIsIndependentOfTheBatchPlan() throws {
        var g = SeededGenerator(seed: 2)
        let model = try #require(try ModelFactory.make(ModelConfiguration(kind: .mlpVAE, imageSize: 16, hiddenSize: 8, latentSize: 3),
                                                        generator: &g) as? MLPVAE)
        let data = Self.images(12, pixels: 16, seed: 1)
        let one = LatentMetrics.logLikelihood(model, images: data, count: 12, samples: 50, seed: 3, rowsPerBatch: 50)
        let all = LatentMetrics.logLikelihood(model, images: data, count: 12, samples: 50, seed: 3, rowsPerBatch: 600)
        #expect(one.images == 12 && one.samples == 50 && one.standardError > 0)
        #expect(abs(one.meanNats - all.meanNats) < 1e-4 * abs(one.meanNats), "\(one.meanNats) vs \(all.meanNats)")
    }

    /// Active units: the count of dimensions whose E_q[z|x] varies over the images by more than the threshold,
    /// against a two-pass variance of `posteriorMean` over all images at once.
    @Test(arguments: [ModelKind.mlpVAE, .gmVAE, .wae])
    func activeUnitsMatchATwoPassVariance(kind: ModelKind) throws {
        var g = SeededGenerator(seed: 6)
        let model = try #require(try ModelFactory.make(ModelConfiguration(kind: kind, imageSize: 16, hiddenSize: 8, latentSize: 5),
                                                        generator: &g) as? any ContinuousLatentModel)
        let count = 60, data = Self.images(count, pixels: 16, seed: 4)
        let (active, variances) = LatentMetrics.activeUnits(model, images: data, count: count, threshold: 1e-3, batchSize: 7)
        let means = model.posteriorMean(Tensor(shape: [count, 16], data: data)).data
        for u in 0..<5 {
            let column = (0..<count).map { Double(means[$0 * 5 + u]) }
            let mean = column.reduce(0, +) / Double(count)
            let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count - 1)
            #expect(abs(variances[u] - variance) <= 1e-6 * max(variance, 1e-12), "unit \(u): \(variances[u]) vs \(variance)")
        }
        #expect(active == variances.filter { $0 > 1e-3 }.count)
        #expect(LatentMetrics.activeUnits(model, images: data, count: count, threshold: .infinity).active == 0)
    }
}
