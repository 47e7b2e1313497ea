import Foundation

// Loss terms kept per row (one value per image, or per image and mixture component) so that a model can
// weight them before summing. Fused and numerically stable; each op's pullback sits right beside its forward.

extension Tensor {
    /// Binary cross-entropy of Bernoulli logits against targets, summed over each row:
    /// out[r] = sum_p max(l[r, p], 0) - l[r, p] t[r mod B, p] + log(1 + e^-|l[r, p]|).
    ///
    /// Shapes: logits [R, P], targets [B, P] with R a multiple of B -> [R]. Row r is scored against target
    /// row r mod B, so logits laid out as K blocks of B rows (component y, image b at row y*B + b) share one
    /// copy of the batch. Never evaluates log(0); sums in Double.
    /// Pullback: dl[r, p] = dout[r] (sigmoid(l[r, p]) - t[r mod B, p]); dt[b, p] = -sum over r = b mod B of dout[r] l[r, p].
    /// Provenance: PyTorch's `binary_cross_entropy_with_logits` with reduction over pixels only.
    public static func binaryCrossEntropyPerRow(logits: Tensor, targets: Tensor) -> Tensor {
        precondition(logits.rank == 2 && targets.rank == 2 && logits.shape[1] == targets.shape[1]
                     && targets.shape[0] > 0 && logits.shape[0] % targets.shape[0] == 0,
                     "binaryCrossEntropyPerRow: logits \(logits.shape) vs targets \(targets.shape)")
        let rows = logits.shape[0], batch = targets.shape[0], pixels = logits.shape[1]
        let l = logits.data, t = targets.data
        // One pass per row computes the loss terms and the slopes sigmoid(l) - t with `VectorMath` (one exp per
        // element; the naive loop is kept in the tests); rows are independent, so any thread split gives the same
        // values.
        var values = [Float](repeating: 0, count: rows)
        var slope = [Float](repeating: 0, count: rows * pixels)
        values.withUnsafeMutableBufferPointer { pv in slope.withUnsafeMutableBufferPointer { ps in
            l.withUnsafeBufferPointer { pl in t.withUnsafeBufferPointer { pt in
                Parallel.forEachRange(rows, itemSize: pixels) { range in
                    for r in range {
                        let lr = pl.baseAddress! + r * pixels, tr = pt.baseAddress! + (r % batch) * pixels
                        pv[r] = Float(VectorMath.binaryCrossEntropy(logits: lr, targets: tr, count: pixels,
                                                                    slopes: ps.baseAddress! + r * pixels))
                    }
                }
            } }
        } }
        return Tensor(shape: [rows], data: values, inputs: [logits, targets]) { out in
            let g = out.grad!
            if logits.requiresGrad {
                logits.withGrad(writingIfNew: { d, isNew in slope.withUnsafeBufferPointer { ps in g.withUnsafeBufferPointer { pg in
                    Parallel.forEachRange(rows, itemSize: pixels) { range in
                        for r in range {
                            let target = d.baseAddress! + r * pixels, source = ps.baseAddress! + r * pixels, gr = pg[r]
                            if isNew {
                                for p in 0..<pixels { target[p] = 0 + gr * source[p] }
                            } else {
                                for p in 0..<pixels { target[p] += gr * source[p] }
                            }
                        }
                    }
                } } })
            }
            if targets.requiresGrad {
                targets.withGrad { d in
                    for r in 0..<rows {
                        let base = r * pixels, tb = (r % batch) * pixels
                        for p in 0..<pixels { d[tb + p] -= g[r] * l[base + p] }
                    }
                }
            }
        }
    }

    /// KL between diagonal Gaussians, summed over each row:
    /// out[r] = 1/2 sum_d [ lv_p - lv + (e^lv + (m - m_p)^2) e^-lv_p - 1 ],  KL(N(m, e^lv) || N(m_p, e^lv_p)).
    ///
    /// Shapes: mean, logVariance, priorMean, priorLogVariance all [R, D] -> [R] (broadcast per-component
    /// prior parameters with `gatheringRows` first). Sums in Double.
    /// Pullback, with u = m - m_p and s = e^-lv_p: dm = u s, dm_p = -u s, dlv = (e^lv s - 1) / 2,
    /// dlv_p = (1 - (e^lv + u^2) s) / 2, each times dout[r].
    /// Provenance: the closed form of E_q[log q(z) - log p(z)]; Rui Shu's GMVAE (2016) estimates the same
    /// expectation with one sample of z.
    public static func gaussianKLPerRow(mean: Tensor, logVariance: Tensor,
                                        priorMean: Tensor, priorLogVariance: Tensor) -> Tensor {
        precondition(mean.rank == 2 && [logVariance.shape, priorMean.shape, priorLogVariance.shape].allSatisfy { $0 == mean.shape },
                     "gaussianKLPerRow: mean \(mean.shape), logVariance \(logVariance.shape), priorMean \(priorMean.shape), priorLogVariance \(priorLogVariance.shape)")
        let rows = mean.shape[0], dims = mean.shape[1]
        let m = mean.data, lv = logVariance.data, mp = priorMean.data, lvp = priorLogVariance.data
        var values = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var total = 0.0
            for i in (r * dims)..<((r + 1) * dims) {
                let u = Double(m[i] - mp[i])
                total += Double(lvp[i] - lv[i]) + (Foundation.exp(Double(lv[i])) + u * u) * Foundation.exp(-Double(lvp[i])) - 1
            }
            values[r] = Float(0.5 * total)
        }
        return Tensor(shape: [rows], data: values, inputs: [mean, logVariance, priorMean, priorLogVariance]) { out in
            let g = out.grad!
            let n = rows * dims
            var dm = [Float](repeating: 0, count: n), dlv = dm, dlvp = dm
            for r in 0..<rows {
                for i in (r * dims)..<((r + 1) * dims) {
                    let u = m[i] - mp[i], s = Foundation.exp(-lvp[i]), v = Foundation.exp(lv[i])
                    dm[i] = g[r] * u * s
                    dlv[i] = g[r] * 0.5 * (v * s - 1)
                    dlvp[i] = g[r] * 0.5 * (1 - (v + u * u) * s)
                }
            }
            mean.accumulateGrad(dm)
            logVariance.accumulateGrad(dlv)
            if priorMean.requiresGrad { priorMean.accumulateGrad(dm.map { -$0 }) }
            priorLogVariance.accumulateGrad(dlvp)
        }
    }
}
