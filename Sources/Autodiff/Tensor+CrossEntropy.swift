import Foundation

// Fused softmax cross-entropy for classifiers. The pullback sits right beside the forward.

extension Tensor {
    /// Cross-entropy of class logits against integer labels, summed over the batch (PyTorch's
    /// `F.cross_entropy(logits, labels, reduction="sum")`): the fused log-softmax + negative log-likelihood
    ///
    ///     sum_b [ logsumexp(l_b) - l_b[y_b] ],  logsumexp(l) = m + log sum_c e^(l_c - m),  m = max_c l_c.
    ///
    /// Subtracting the row maximum keeps every exponent <= 0, so nothing overflows, and the log is of a
    /// sum >= 1, so it is never log(0). The exponentials are Float (`VectorMath.expNonPositive`, under 1 ulp); each
    /// row's logsumexp and the batch sum are in Double, rows in order, so the value does not depend on the thread count.
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
        // softmax probabilities, kept for the pullback; each row's loss in Double, summed in row order.
        var probabilities = [Float](repeating: 0, count: batch * classes)
        var rowLosses = [Double](repeating: 0, count: batch)
        logits.data.withUnsafeBufferPointer { pl in probabilities.withUnsafeMutableBufferPointer { pp in
            rowLosses.withUnsafeMutableBufferPointer { losses in labels.withUnsafeBufferPointer { y in
                let logits = pl.baseAddress!, probabilities = pp.baseAddress!, losses = losses.baseAddress!, y = y.baseAddress!
                Parallel.forEachRange(batch, itemSize: classes) { rows in
                    for b in rows {
                        let sum = softmaxRow(logits + b * classes, into: probabilities + b * classes, count: classes)
                        losses[b] = Double(sum.maximum) + Foundation.log(sum.exponentials)
                            - Double(logits[b * classes + y[b]])
                    }
                }
            } }
        } }
        let total = rowLosses.reduce(0, +)
        return Tensor(shape: [], data: [Float(total)], inputs: [logits]) { out in
            let g = out.grad![0]
            logits.withGrad { d in probabilities.withUnsafeBufferPointer { pp in labels.withUnsafeBufferPointer { y in
                let d = d.baseAddress!, probabilities = pp.baseAddress!, y = y.baseAddress!
                Parallel.forEachRange(batch, itemSize: classes) { rows in
                    for b in rows {
                        for c in 0..<classes { d[b * classes + c] += g * probabilities[b * classes + c] }
                        d[b * classes + y[b]] -= g
                    }
                }
            } } }
        }
    }

    /// Writes softmax(row) to `probabilities` and returns the row's maximum m and sum_c e^(row_c - m) (in Double,
    /// of the Float exponentials), the two terms of logsumexp. 16 lanes at a time with `VectorMath.expNonPositive`;
    /// the tail uses the same polynomial, so a value does not depend on where it falls.
    private static func softmaxRow(_ row: UnsafePointer<Float>, into probabilities: UnsafeMutablePointer<Float>,
                                   count: Int) -> (maximum: Float, exponentials: Double) {
        typealias Lanes = VectorMath.Lanes
        let width = Lanes.scalarCount
        var m = row[0]
        for c in 1..<count where row[c] > m { m = row[c] }
        var sums = Lanes(repeating: 0)
        var tail: Float = 0
        var c = 0
        while c + width <= count {
            let e = VectorMath.expNonPositive(UnsafeRawPointer(row + c).loadUnaligned(as: Lanes.self) - m)
            UnsafeMutableRawPointer(probabilities + c).storeBytes(of: e, as: Lanes.self)
            sums += e
            c += width
        }
        while c < count {
            let e = VectorMath.expNonPositive(row[c] - m)
            probabilities[c] = e
            tail += e
            c += 1
        }
        let sum = Double(sums.sum()) + Double(tail)
        let inverse = Float(1 / sum)
        for c in 0..<count { probabilities[c] *= inverse }
        return (m, sum)
    }
}
