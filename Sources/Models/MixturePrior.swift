import Autodiff
import Foundation

/// The Gaussian-mixture prior of the GM-VAE family: p(z) = sum_y p(y) N(z; mu_y, diag(e^lv_y)), with p(y) = softmax(a)
/// for learned logits a or Uniform(K).
///
/// Parameters: `prior.means` [K, z] ~ N(0, priorMeanScale^2) at creation, `prior.log_variances` [K, z] = 0,
/// `prior.logits` [1, K] = 0 (with `learnedMixtureWeights` only). Shared by `GMVAE` and `VaDE`.
public final class MixturePrior {
    /// mu_y: [K, z].
    public let means: Tensor
    /// lv_y: [K, z].
    public let logVariances: Tensor
    /// a: [1, K]; nil for Uniform(K).
    public let logits: Tensor?
    public let components: Int
    let latentSize: Int

    init(configuration c: ModelConfiguration, generator: inout SeededGenerator) {
        let k = c.mixtureComponents
        components = k
        latentSize = c.latentSize
        means = Tensor(shape: [k, c.latentSize],
                       data: generator.normals(k * c.latentSize).map { $0 * Float(c.priorMeanScale) }, requiresGrad: true)
        logVariances = Tensor.zeros([k, c.latentSize], requiresGrad: true)
        logits = c.learnedMixtureWeights ? Tensor.zeros([1, k], requiresGrad: true) : nil
    }

    var namedParameters: [(name: String, tensor: Tensor)] {
        [("prior.means", means), ("prior.log_variances", logVariances)] + (logits.map { [("prior.logits", $0)] } ?? [])
    }

    /// log p(y) for y in 0..<K, in Double: log softmax(a), or -log K each.
    public var logWeights: [Double] {
        guard let logits else { return [Double](repeating: -Foundation.log(Double(components)), count: components) }
        let a = logits.data.map(Double.init)
        let normalizer = logSumExp(a)
        return a.map { $0 - normalizer }
    }

    /// The logits broadcast over a batch, [batch, K], for `Tensor.categoricalKL`; nil for Uniform(K).
    func broadcastLogits(batch: Int) -> Tensor? { logits?.gatheringRows([Int](repeating: 0, count: batch)) }

    /// `count` draws y ~ p(y): Uniform(K) by one bounded draw each, learned weights by inverting the cumulative sum at
    /// one uniform each.
    func drawComponents(count: Int, generator: inout SeededGenerator) -> [Int] {
        guard logits != nil else { return (0..<count).map { _ in Int(generator.boundedDraw(UInt64(components))) } }
        let weights = logWeights.map(Foundation.exp)
        return (0..<count).map { _ in
            let u = Double(generator.nextUniform())
            var cumulative = 0.0
            for (y, w) in weights.enumerated() {
                cumulative += w
                if u < cumulative { return y }
            }
            return components - 1
        }
    }

    /// One code z ~ p(z|y) per component in `ys`: [ys.count, z].
    func codes(components ys: [Int], generator: inout SeededGenerator) -> Tensor {
        precondition(ys.allSatisfy { (0..<components).contains($0) }, "components must be in 0..<\(components), got \(ys)")
        let z = latentSize
        var codes = generator.normals(ys.count * z)
        for (i, y) in ys.enumerated() {
            for j in 0..<z {
                codes[i * z + j] = means.data[y * z + j] + codes[i * z + j] * Foundation.exp(0.5 * logVariances.data[y * z + j])
            }
        }
        return Tensor(shape: [ys.count, z], data: codes)
    }

    /// log p(z) = log sum_y p(y) N(z; mu_y, e^lv_y), in Double; `logP` is `logWeights` (computed once by the caller).
    func logDensity(_ z: UnsafeBufferPointer<Double>, logP: [Double]) -> Double {
        logSumExp((0..<components).map { c in
            logP[c] + logGaussian(z, mean: { Double(self.means.data[c * self.latentSize + $0]) },
                                  logVariance: { Double(self.logVariances.data[c * self.latentSize + $0]) })
        })
    }
}
