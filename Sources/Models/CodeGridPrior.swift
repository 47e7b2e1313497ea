import Autodiff
import Foundation

/// A prior over grids of code indices: what `VQVAE.sample` draws from. A small seam so that a learned
/// autoregressive prior can replace the per-position one.
protocol CodeGridPrior: AnyObject {
    /// Its state, saved in checkpoints (names relative to `prior.`).
    var namedBuffers: [(name: String, tensor: Tensor)] { get }
    /// Fits the prior to `images` grids of code indices, image-major ([images * positions]).
    func fit(codes: [Int], images: Int)
    /// `count` grids of code indices, image-major: [count * positions].
    func sample(count: Int, generator: inout SeededGenerator) -> [Int]
}

/// Independent categorical distributions, one per grid position: p(grid) = prod_p Cat(k_p; pi_p).
/// Fitted with add-one (Laplace) smoothing: pi_p,k = (count_p,k + 1) / (images + K). Before fitting, uniform.
/// State: `probabilities` [positions, K].
final class PerPositionCategoricalPrior: CodeGridPrior {
    let probabilities: Tensor

    init(positions: Int, codes: Int) {
        precondition(positions >= 1 && codes >= 1, "PerPositionCategoricalPrior: positions \(positions), codes \(codes)")
        probabilities = Tensor(shape: [positions, codes],
                               data: [Float](repeating: 1 / Float(codes), count: positions * codes))
    }

    var positions: Int { probabilities.shape[0] }
    var codes: Int { probabilities.shape[1] }

    var namedBuffers: [(name: String, tensor: Tensor)] { [("probabilities", probabilities)] }

    func fit(codes indices: [Int], images: Int) {
        let p = positions, k = codes
        precondition(indices.count == images * p && indices.allSatisfy { (0..<k).contains($0) },
                     "PerPositionCategoricalPrior.fit: \(indices.count) indices for \(images) images of \(p) positions, K = \(k)")
        var counts = [Double](repeating: 1, count: p * k)
        for (i, code) in indices.enumerated() { counts[(i % p) * k + code] += 1 }
        let denominator = Double(images + k)
        for i in 0..<(p * k) { probabilities.data[i] = Float(counts[i] / denominator) }
    }

    /// Inverse-CDF draws, one uniform per position.
    func sample(count: Int, generator: inout SeededGenerator) -> [Int] {
        let p = positions, k = codes
        // Cumulative probabilities per position, in Double, the last forced to 1.
        var cumulative = [Double](repeating: 0, count: p * k)
        for position in 0..<p {
            var total = 0.0
            for j in 0..<k { total += Double(probabilities.data[position * k + j]); cumulative[position * k + j] = total }
            for j in 0..<k { cumulative[position * k + j] /= total }
            cumulative[position * k + k - 1] = 1
        }
        var result = [Int](repeating: 0, count: count * p)
        for image in 0..<count {
            for position in 0..<p {
                let u = Double(generator.nextUniform())
                var j = 0
                while j < k - 1 && u >= cumulative[position * k + j] { j += 1 }
                result[image * p + position] = j
            }
        }
        return result
    }
}
