import Autodiff
import Datasets
import Foundation
import Models

/// An importance-weighted estimate of the test log-likelihood (the IWAE bound with k samples per image, Burda,
/// Grosse & Salakhutdinov 2016), in nats per image under the training likelihood: a Bernoulli decoder scored on
/// the [0, 1] pixel intensities, as the training loss's binary cross-entropy does (so not a discrete likelihood of
/// binarised MNIST, and not comparable with papers that binarise).
public struct LogLikelihoodEstimate: Codable, Equatable, Sendable {
    /// Mean over images of log (1/k) sum_i w_i: a lower bound on log p(x) that rises with k.
    public var meanNats: Double
    /// Standard error of `meanNats` over images (sample standard deviation / sqrt(images)).
    public var standardError: Double
    public var images: Int
    /// k, the importance samples per image.
    public var samples: Int
    public var seed: UInt64
}

/// How the importance-weighted log-likelihood is estimated (`vae-eval --log-likelihood`): `samples` draws per image
/// on the first `images` test images, from `SeededGenerator(seed)`.
public struct LogLikelihoodSettings: Codable, Equatable, Sendable {
    public var samples: Int
    public var images: Int
    public var seed: UInt64

    public init(samples: Int = 5000, images: Int = 1000, seed: UInt64 = 0) {
        self.samples = samples; self.images = images; self.seed = seed
    }
}

/// The `latent` section of results.json: latent usage and, when asked for, the log-likelihood estimate.
public struct LatentResults: Codable, Equatable, Sendable {
    /// Dimensions with Cov_x(E_q[z_u|x]) > `activityThreshold` over the test set.
    public var activeUnits: Int
    public var latentSize: Int
    public var activityThreshold: Double
    /// Cov_x(E_q[z_u|x]) per dimension.
    public var unitVariances: [Double]
    /// The IWAE estimate (models with tractable densities, `--log-likelihood`); nil otherwise.
    public var logLikelihood: LogLikelihoodEstimate?
}

/// Latent-space figures of a model on a set of images.
public enum LatentMetrics {
    /// Active units of a continuous-latent model on `test`, and its log-likelihood estimate when `likelihood` is set
    /// and the model has tractable densities; nil for other models (vq_vae's codes are discrete).
    public static func results(for model: any GenerativeModel, test: MNISTSplit, likelihood: LogLikelihoodSettings?,
                               log: (String) -> Void = { _ in }) -> LatentResults? {
        guard let continuous = model as? any ContinuousLatentModel else { return nil }
        let threshold = 0.01
        let (active, variances) = activeUnits(continuous, images: test.images, count: test.count, threshold: threshold)
        var estimate: LogLikelihoodEstimate?
        if let likelihood, let weighted = model as? any ImportanceWeightedModel {
            let start = Date()
            let count = min(likelihood.images, test.count)
            estimate = logLikelihood(weighted, images: test.images, count: count, samples: likelihood.samples, seed: likelihood.seed)
            log(String(format: "log-likelihood (IWAE, k = %d, %d test images): %.2f ± %.2f nats, %.1f s", likelihood.samples,
                       count, estimate!.meanNats, estimate!.standardError, Date().timeIntervalSince(start)))
        }
        return LatentResults(activeUnits: active, latentSize: variances.count, activityThreshold: threshold,
                             unitVariances: variances, logLikelihood: estimate)
    }

    /// The IWAE estimate of log p(x) over the first `count` images of `images` [*, imageSize], `samples` draws per
    /// image, from `SeededGenerator(seed)`; images are scored a few at a time so that one product has about
    /// `rowsPerBatch` rows. Deterministic for a given seed, batch plan and thread count-independent products.
    public static func logLikelihood(_ model: any ImportanceWeightedModel, images: [Float], count: Int, samples: Int,
                                     seed: UInt64, rowsPerBatch: Int = 8192) -> LogLikelihoodEstimate {
        precondition(count >= 2 && samples >= 1, "logLikelihood: \(count) images, \(samples) samples")
        let pixels = model.configuration.imageSize
        precondition(images.count >= count * pixels, "logLikelihood: \(images.count) values for \(count) images")
        var generator = SeededGenerator(seed: seed)
        let perBatch = max(1, rowsPerBatch / samples)
        var estimates: [Double] = []
        estimates.reserveCapacity(count)
        var start = 0
        while start < count {
            let size = min(perBatch, count - start)
            let batch = Tensor(shape: [size, pixels], data: Array(images[(start * pixels)..<((start + size) * pixels)]))
            let logWeights = model.logImportanceWeights(batch, samples: samples, generator: &generator)
            for b in 0..<size {
                let own = (0..<samples).map { logWeights[$0 * size + b] }
                estimates.append(logSumExp(own) - log(Double(samples)))
            }
            start += size
        }
        let mean = estimates.reduce(0, +) / Double(count)
        let variance = estimates.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count - 1)
        return LogLikelihoodEstimate(meanNats: mean, standardError: (variance / Double(count)).squareRoot(),
                                     images: count, samples: samples, seed: seed)
    }

    /// Active units (Burda et al. 2016, section 5.2): the latent dimensions u with Cov_x(E_q[z_u | x]) > `threshold`
    /// (0.01), the covariance over the `count` images [count, imageSize] (sample variance, n - 1).
    public static func activeUnits(_ model: any ContinuousLatentModel, images: [Float], count: Int,
                                   threshold: Double = 0.01, batchSize: Int = 500) -> (active: Int, variances: [Double]) {
        precondition(count >= 2, "activeUnits: \(count) images")
        let pixels = model.configuration.imageSize, z = model.configuration.latentSize
        var sum = [Double](repeating: 0, count: z), sumOfSquares = sum
        var start = 0
        while start < count {
            let size = min(batchSize, count - start)
            let means = model.posteriorMean(Tensor(shape: [size, pixels],
                                                   data: Array(images[(start * pixels)..<((start + size) * pixels)]))).data
            for b in 0..<size {
                for u in 0..<z { let v = Double(means[b * z + u]); sum[u] += v; sumOfSquares[u] += v * v }
            }
            start += size
        }
        let n = Double(count)
        let variances = (0..<z).map { max(0, (sumOfSquares[$0] - sum[$0] * sum[$0] / n) / (n - 1)) }
        return (variances.filter { $0 > threshold }.count, variances)
    }
}
