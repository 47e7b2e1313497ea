import Foundation

// KL between two categorical distributions given by rows of logits. The pullback sits beside the forward.

extension Tensor {
    /// KL(Cat(softmax(l_r)) || Cat(softmax(a_r))) summed over rows:
    /// sum_r sum_k q[r, k] (log q[r, k] - log p[r, k]), log q = l - logsumexp(l), log p = a - logsumexp(a).
    ///
    /// Shapes: logits [rows, K], priorLogits [rows, K] (broadcast one learned prior over a batch with
    /// `gatheringRows`) -> scalar. Sums in Double.
    /// Pullback: dl[r, k] = q (log q - log p - KL_r), KL_r = sum_j q_j (log q_j - log p_j); da[r, k] = p - q.
    /// Provenance: the KL(q(y|x) || p(y)) term of a mixture prior with learned weights pi = softmax(a)
    /// (VaDE, Jiang et al. 2017; Dilokthanakul et al. 2016); `categoricalKLFromUniform` is the a = 0 case.
    public static func categoricalKL(logits: Tensor, priorLogits: Tensor) -> Tensor {
        precondition(logits.rank == 2 && logits.shape[1] > 0 && priorLogits.shape == logits.shape,
                     "categoricalKL: logits \(logits.shape), priorLogits \(priorLogits.shape)")
        let rows = logits.shape[0], k = logits.shape[1]
        let logQ = rowLogSoftmax(logits.data, rows: rows, columns: k)
        let logP = rowLogSoftmax(priorLogits.data, rows: rows, columns: k)
        var perRow = [Float](repeating: 0, count: rows)
        var total = 0.0
        for r in 0..<rows {
            var s = 0.0
            for j in 0..<k {
                let lq = Double(logQ[r * k + j])
                s += Foundation.exp(lq) * (lq - Double(logP[r * k + j]))
            }
            perRow[r] = Float(s)
            total += s
        }
        return Tensor(shape: [], data: [Float(total)], inputs: [logits, priorLogits]) { out in
            let g = out.grad![0]
            if logits.requiresGrad { logits.withGrad { d in
                for r in 0..<rows { for j in 0..<k {
                    let i = r * k + j
                    d[i] += g * Foundation.exp(logQ[i]) * (logQ[i] - logP[i] - perRow[r])
                } }
            } }
            if priorLogits.requiresGrad { priorLogits.withGrad { d in
                for i in 0..<(rows * k) { d[i] += g * (Foundation.exp(logP[i]) - Foundation.exp(logQ[i])) }
            } }
        }
    }
}
