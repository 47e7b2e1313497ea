import Foundation

// Categorical distributions given by rows of logits. Each op's pullback sits right beside its forward.

extension Tensor {
    /// Softmax of each row: out[r, k] = e^(l[r, k] - m_r) / sum_j e^(l[r, j] - m_r), m_r = max_j l[r, j]
    /// (the shift keeps e^ from overflowing and does not change the result).
    ///
    /// Shapes: [rows, K] -> [rows, K], each row a probability vector.
    /// Pullback: dl[r, k] = p[r, k] (dp[r, k] - sum_j dp[r, j] p[r, j]).
    public func softmaxRows() -> Tensor {
        precondition(rank == 2 && shape[1] > 0, "softmaxRows needs a matrix with columns, got \(shape)")
        let rows = shape[0], k = shape[1]
        let p = Tensor.rowSoftmax(data, rows: rows, columns: k)
        return Tensor(shape: shape, data: p, inputs: [self]) { out in
            let g = out.grad!
            self.withGrad { d in
                for r in 0..<rows {
                    var dot: Float = 0
                    for j in 0..<k { dot += g[r * k + j] * p[r * k + j] }
                    for j in 0..<k { d[r * k + j] += p[r * k + j] * (g[r * k + j] - dot) }
                }
            }
        }
    }

    /// KL(Cat(softmax(l_r)) || Uniform(K)) summed over rows, from logits:
    /// sum_r [ sum_k q[r, k] log q[r, k] + log K ], with log q = l - logsumexp(l) (never log 0).
    ///
    /// Shapes: logits [rows, K] -> scalar. Pullback: dl[r, k] = q[r, k] (log q[r, k] - sum_j q[r, j] log q[r, j]).
    /// Provenance: the KL(q(y|x) || p(y)) term of Rui Shu's GMVAE (2016) and Kingma et al. 2014 (M2).
    public static func categoricalKLFromUniform(logits: Tensor) -> Tensor {
        precondition(logits.rank == 2 && logits.shape[1] > 0, "categoricalKLFromUniform: logits \(logits.shape)")
        let rows = logits.shape[0], k = logits.shape[1]
        let logQ = rowLogSoftmax(logits.data, rows: rows, columns: k)
        var negativeEntropies = [Float](repeating: 0, count: rows)
        var total = 0.0
        for r in 0..<rows {
            var s = 0.0
            for j in 0..<k { let lq = Double(logQ[r * k + j]); s += Foundation.exp(lq) * lq }
            negativeEntropies[r] = Float(s)
            total += s + Foundation.log(Double(k))
        }
        return Tensor(shape: [], data: [Float(total)], inputs: [logits]) { out in
            let g = out.grad![0]
            logits.withGrad { d in
                for r in 0..<rows { for j in 0..<k {
                    let lq = logQ[r * k + j]
                    d[r * k + j] += g * Foundation.exp(lq) * (lq - negativeEntropies[r])
                } }
            }
        }
    }

    /// Row-wise log-softmax of a row-major [rows, columns] array: l - max - log sum e^(l - max).
    static func rowLogSoftmax(_ logits: [Float], rows: Int, columns: Int) -> [Float] {
        var result = logits
        for r in 0..<rows {
            let base = r * columns
            var m = -Float.infinity
            for j in 0..<columns { m = max(m, logits[base + j]) }
            var s: Float = 0
            for j in 0..<columns { s += Foundation.exp(logits[base + j] - m) }
            let shift = m + Foundation.log(s)
            for j in 0..<columns { result[base + j] = logits[base + j] - shift }
        }
        return result
    }

    /// Row-wise softmax of a row-major [rows, columns] array (max-shifted).
    static func rowSoftmax(_ logits: [Float], rows: Int, columns: Int) -> [Float] {
        var result = logits
        for r in 0..<rows {
            let base = r * columns
            var m = -Float.infinity
            for j in 0..<columns { m = max(m, logits[base + j]) }
            var s: Float = 0
            for j in 0..<columns { let e = Foundation.exp(logits[base + j] - m); result[base + j] = e; s += e }
            for j in 0..<columns { result[base + j] /= s }
        }
        return result
    }
}
