import Foundation

// Fused softmax cross-entropy for classifiers. The pullback sits right beside the forward.

extension Tensor {
    /// Cross-entropy of class logits against integer labels, summed over the batch (PyTorch's
    /// `F.cross_entropy(logits, labels, reduction="sum")`): the fused log-softmax + negative log-likelihood
    ///
    ///     sum_b [ logsumexp(l_b) - l_b[y_b] ],  logsumexp(l) = m + log sum_c e^(l_c - m),  m = max_c l_c.
    ///
    /// Subtracting the row maximum keeps every exponent <= 0, so nothing overflows, and the log is of a
    /// sum >= 1, so it is never log(0). Accumulated in Double.
    ///
    /// Shapes: logits [batch, classes]; `labels` has `batch` entries in 0..<classes. Result: a scalar.
    /// Pullback: d/dl_b = g (softmax(l_b) - onehot(y_b)).
    /// Provenance: PyTorch `nn.CrossEntropyLoss` (log_softmax followed by nll_loss).
    public static func softmaxCrossEntropy(logits: Tensor, labels: [Int]) -> Tensor {
        precondition(logits.rank == 2, "softmaxCrossEntropy: logits \(logits.shape), want [batch, classes]")
        let batch = logits.shape[0], classes = logits.shape[1]
        precondition(labels.count == batch, "softmaxCrossEntropy: \(labels.count) labels for a batch of \(batch)")
        precondition(classes >= 1 && labels.allSatisfy { (0..<classes).contains($0) },
                     "softmaxCrossEntropy: labels must be in 0..<\(classes)")
        let l = logits.data
        // softmax probabilities, kept for the pullback.
        var probabilities = [Float](repeating: 0, count: batch * classes)
        var total = 0.0
        l.withUnsafeBufferPointer { pl in probabilities.withUnsafeMutableBufferPointer { pp in
            for b in 0..<batch {
                let row = pl.baseAddress! + b * classes
                var m = row[0]
                for c in 1..<max(classes, 1) where row[c] > m { m = row[c] }
                var sum = 0.0
                for c in 0..<classes {
                    let e = Foundation.exp(Double(row[c] - m))
                    pp[b * classes + c] = Float(e)
                    sum += e
                }
                for c in 0..<classes { pp[b * classes + c] = Float(Double(pp[b * classes + c]) / sum) }
                total += Double(m) + Foundation.log(sum) - Double(row[labels[b]])
            }
        } }
        return Tensor(shape: [], data: [Float(total)], inputs: [logits]) { out in
            let g = out.grad![0]
            logits.withGrad { d in probabilities.withUnsafeBufferPointer { pp in
                for b in 0..<batch {
                    for c in 0..<classes { d[b * classes + c] += g * pp[b * classes + c] }
                    d[b * classes + labels[b]] -= g
                }
            } }
        }
    }
}
