import Autodiff
import Foundation

/// A codebook learned by exponential moving averages, with Laplace-smoothed cluster sizes and dead-code
/// re-initialisation.
///
/// State (all buffers): the codebook e [K, D], the EMA cluster sizes N [K] and the EMA code sums m [K, D].
/// One update with the counts n_k and sums s_k of the vectors assigned to each code in a batch:
///     N_k <- decay N_k + (1 - decay) n_k,        m_k <- decay m_k + (1 - decay) s_k,
///     Ñ_k = (N_k + eps) / (n + K eps) * n  with n = sum_k N_k   (Laplace smoothing: no division by 0),
///     e_k = m_k / Ñ_k.
/// Provenance: van den Oord et al. 2017, appendix A.1; Sonnet's `VectorQuantizerEMA` (eps = 1e-5).
final class EMACodebook {
    let codebook: Tensor
    let clusterSize: Tensor
    let embeddingSum: Tensor
    let decay: Float
    /// Laplace smoothing constant of the cluster sizes.
    let epsilon: Float
    /// Codes whose EMA cluster size (vectors per batch) is below this are dead and get re-initialised.
    let deadCodeThreshold: Float

    /// K = `codes` vectors of size D = `size`, drawn from N(0, 1) (soon replaced: every cluster size starts
    /// at 0, below the threshold, so the first `reinitializeDeadCodes` overwrites the whole codebook).
    init(codes: Int, size: Int, decay: Float, epsilon: Float = 1e-5, deadCodeThreshold: Float = 1,
         generator: inout SeededGenerator) {
        precondition(codes >= 1 && size >= 1 && (0..<1).contains(decay), "EMACodebook: K \(codes), D \(size), decay \(decay)")
        let initial = generator.normals(codes * size)
        codebook = Tensor(shape: [codes, size], data: initial)
        clusterSize = Tensor.zeros([codes])
        embeddingSum = Tensor(shape: [codes, size], data: initial)
        self.decay = decay
        self.epsilon = epsilon
        self.deadCodeThreshold = deadCodeThreshold
    }

    var codes: Int { codebook.shape[0] }
    var size: Int { codebook.shape[1] }

    var namedBuffers: [(name: String, tensor: Tensor)] {
        [("codebook", codebook), ("cluster_size", clusterSize), ("embedding_sum", embeddingSum)]
    }

    /// Every code whose cluster size is below the threshold becomes a random row of `vectors` [N, D]
    /// (uniform draws with replacement from `generator`), with cluster size = threshold and code sum =
    /// threshold * code, so that the EMA statistics stay consistent with it. Returns the codes revived.
    @discardableResult
    func reinitializeDeadCodes(from vectors: Tensor, generator: inout SeededGenerator) -> [Int] {
        precondition(vectors.rank == 2 && vectors.shape[1] == size, "reinitializeDeadCodes: vectors \(vectors.shape), D = \(size)")
        let n = vectors.shape[0]
        guard n > 0 else { return [] }
        let dead = (0..<codes).filter { clusterSize.data[$0] < deadCodeThreshold }
        let d = size, weight = deadCodeThreshold
        for k in dead {
            let row = Int(generator.boundedDraw(UInt64(n)))
            for c in 0..<d {
                let v = vectors.data[row * d + c]
                codebook.data[k * d + c] = v
                embeddingSum.data[k * d + c] = weight * v
            }
            clusterSize.data[k] = weight
        }
        return dead
    }

    /// The code vectors of `indices`: [indices.count, D].
    func vectors(of indices: [Int]) -> Tensor {
        let d = size
        var rows = [Float](repeating: 0, count: indices.count * d)
        for (i, code) in indices.enumerated() {
            precondition((0..<codes).contains(code), "EMACodebook: code index \(code) outside 0..<\(codes)")
            for c in 0..<d { rows[i * d + c] = codebook.data[code * d + c] }
        }
        return Tensor(shape: [indices.count, d], data: rows)
    }

    /// One EMA step with the vectors [N, D] of a batch and their assigned codes.
    func update(vectors: Tensor, indices: [Int]) {
        precondition(vectors.rank == 2 && vectors.shape[1] == size && indices.count == vectors.shape[0],
                     "EMACodebook.update: vectors \(vectors.shape), \(indices.count) indices, D = \(size)")
        let k = codes, d = size
        var counts = [Double](repeating: 0, count: k)
        var sums = [Double](repeating: 0, count: k * d)
        vectors.data.withUnsafeBufferPointer { z in
            for (i, code) in indices.enumerated() {
                counts[code] += 1
                for c in 0..<d { sums[code * d + c] += Double(z[i * d + c]) }
            }
        }
        let keep = Double(decay), blend = 1 - Double(decay)
        var total = 0.0
        for j in 0..<k {
            let updated = keep * Double(clusterSize.data[j]) + blend * counts[j]
            clusterSize.data[j] = Float(updated)
            total += updated
        }
        let eps = Double(epsilon)
        for j in 0..<k {
            let smoothed = (Double(clusterSize.data[j]) + eps) / (total + Double(k) * eps) * total
            for c in 0..<d {
                let m = keep * Double(embeddingSum.data[j * d + c]) + blend * sums[j * d + c]
                embeddingSum.data[j * d + c] = Float(m)
                codebook.data[j * d + c] = Float(m / smoothed)
            }
        }
    }
}
