import Autodiff
import Foundation
@testable import Evaluation

/// The plain-loop EM kernels that `GaussianMixture`'s BLAS kernels replaced, kept as their reference: forward
/// substitution per point and component for the log-densities, and accumulated outer products for the covariances.
enum NaiveGaussianMixture {
    /// log pi_k + log N(x_i | mu_k, Sigma_k) as [n, K], x [n, d], by forward substitution L y = x - mu.
    static func componentLogDensities(_ m: GaussianMixture, _ x: [Double], _ n: Int) -> [Double] {
        let d = m.dimension, k = m.components, dd = d * d
        let l = m.choleskyFactors
        var out = [Double](repeating: 0, count: n * k)
        var y = [Double](repeating: 0, count: d)
        for c in 0..<k {
            var logDet = 0.0
            for i in 0..<d { logDet += 2 * log(l[c * dd + i * d + i]) }
            let constant = log(m.weights[c]) - 0.5 * (Double(d) * log(2 * Double.pi) + logDet)
            for p in 0..<n {
                var quadratic = 0.0
                for i in 0..<d {
                    var v = x[p * d + i] - m.means[c * d + i]
                    for j in 0..<i { v -= l[c * dd + i * d + j] * y[j] }
                    v /= l[c * dd + i * d + i]
                    y[i] = v
                    quadratic += v * v
                }
                out[p * k + c] = constant - 0.5 * quadratic
            }
        }
        return out
    }

    /// The M-step with the regularisation documented on `GaussianMixture.fit`, in plain loops.
    static func mStep(_ x: [Double], _ n: Int, _ d: Int, _ k: Int, _ r: [Double], _ fallbackEpsilon: Double) -> GaussianMixture {
        var counts = [Double](repeating: 10 * Double.ulpOfOne, count: k)
        for p in 0..<n { for c in 0..<k { counts[c] += r[p * k + c] } }
        let totalCount = counts.reduce(0, +)
        var means = [Double](repeating: 0, count: k * d)
        for p in 0..<n { for c in 0..<k { for i in 0..<d { means[c * d + i] += r[p * k + c] * x[p * d + i] } } }
        for c in 0..<k { for i in 0..<d { means[c * d + i] /= counts[c] } }
        let dd = d * d
        var covariances = [Double](repeating: 0, count: k * dd)
        var diff = [Double](repeating: 0, count: d)
        for c in 0..<k {
            for p in 0..<n {
                let w = r[p * k + c]
                for i in 0..<d { diff[i] = x[p * d + i] - means[c * d + i] }
                for i in 0..<d { for j in 0...i { covariances[c * dd + i * d + j] += w * diff[i] * diff[j] } }
            }
            var trace = 0.0
            for i in 0..<d {
                for j in 0...i { covariances[c * dd + i * d + j] /= counts[c] }
                trace += covariances[c * dd + i * d + i]
            }
            let epsilon = trace > 0 ? 1e-6 * trace / Double(d) : fallbackEpsilon
            for i in 0..<d {
                covariances[c * dd + i * d + i] += epsilon
                for j in 0..<i { covariances[c * dd + j * d + i] = covariances[c * dd + i * d + j] }
            }
        }
        return GaussianMixture(dimension: d, weights: counts.map { $0 / totalCount }, means: means, covariances: covariances)
    }

    static var kernels: GaussianMixture.Kernels { .init(logDensities: componentLogDensities, mStep: mStep) }

    /// `GaussianMixture.fit` with the plain-loop kernels (same initialisation, loop and stopping rule).
    static func fit(points: [Float], dimension: Int, components: Int, iterations: Int, tolerance: Double,
                    generator: inout SeededGenerator) -> (GaussianMixture, logLikelihoods: [Double]) {
        GaussianMixture.fit(points: points, dimension: dimension, components: components, iterations: iterations,
                            tolerance: tolerance, generator: &generator, kernels: kernels)
    }
}
