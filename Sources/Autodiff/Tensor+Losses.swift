import Foundation

// Fused, numerically stable loss terms of the VAE family. Each returns a scalar summed over every
// element (PyTorch's reduction="sum"), accumulated in Double.

extension Tensor {
    /// Binary cross-entropy of Bernoulli logits against targets in [0, 1], summed:
    /// sum max(l, 0) - l t + log(1 + e^-|l|)  ==  -sum t log sigmoid(l) + (1 - t) log(1 - sigmoid(l)).
    ///
    /// Shapes: logits and targets equal. Never evaluates log(0). Pullback: d/dl = sigmoid(l) - t.
    /// Provenance: PyTorch's `binary_cross_entropy_with_logits`.
    public static func binaryCrossEntropy(logits: Tensor, targets: Tensor) -> Tensor {
        precondition(logits.shape == targets.shape, "BCE: logits \(logits.shape) vs targets \(targets.shape)")
        let n = logits.count
        let l = logits.data, t = targets.data
        // One pass computes e = exp(-|l|) once for both the loss term log1p(e) and the gradient
        // sigmoid(l) - t (= 1/(1+e) - t for l >= 0, e/(1+e) - t otherwise), which the pullback reuses.
        // 16 lanes at a time with `VectorMath` (the naive scalar loop is kept in the tests); each block's
        // sum is accumulated per lane in Double, so the total does not depend on the thread count.
        var slope = [Float](repeating: 0, count: n)
        let total = slope.withUnsafeMutableBufferPointer { d in
            l.withUnsafeBufferPointer { pl in t.withUnsafeBufferPointer { pt in
                Parallel.sum(n) { range in
                    VectorMath.binaryCrossEntropy(logits: pl.baseAddress! + range.lowerBound, targets: pt.baseAddress! + range.lowerBound,
                                                  count: range.count, slopes: d.baseAddress! + range.lowerBound)
                }
            } }
        }
        return Tensor(shape: [], data: [Float(total)], inputs: [logits, targets]) { out in
            let g = out.grad![0]
            logits.withGrad { d in slope.withUnsafeBufferPointer { s in
                Parallel.forEachRange(n) { range in for i in range { d[i] += g * s[i] } }
            } }
            if targets.requiresGrad {
                targets.withGrad { d in l.withUnsafeBufferPointer { pl in for i in 0..<n { d[i] -= g * pl[i] } } }
            }
        }
    }

    /// KL(N(mu, diag(e^logvar)) || N(0, I)) summed over batch and latent dimensions:
    /// -1/2 sum (1 + logvar - mu^2 - e^logvar).
    ///
    /// Shapes: mean and logVariance [batch, z]. Pullback: d/dmu = mu, d/dlogvar = (e^logvar - 1) / 2.
    /// Provenance: Kingma & Welling 2014, appendix B; PyTorch examples/vae.
    public static func klDivergenceFromStandardNormal(mean: Tensor, logVariance: Tensor) -> Tensor {
        precondition(mean.shape == logVariance.shape, "KL: mean \(mean.shape) vs logVariance \(logVariance.shape)")
        let n = mean.count
        let mu = mean.data, lv = logVariance.data
        var total = 0.0
        for i in 0..<n { total += Double(1 + lv[i] - mu[i] * mu[i] - Foundation.exp(lv[i])) }
        return Tensor(shape: [], data: [Float(-0.5 * total)], inputs: [mean, logVariance]) { out in
            let g = out.grad![0]
            if mean.requiresGrad { mean.withGrad { d in for i in 0..<n { d[i] += g * mu[i] } } }
            if logVariance.requiresGrad {
                logVariance.withGrad { d in for i in 0..<n { d[i] += g * 0.5 * (Foundation.exp(lv[i]) - 1) } }
            }
        }
    }

    /// The reparameterisation z = mu + eps * e^(logvar / 2), with eps ~ N(0, I) given as `noise`.
    ///
    /// Shapes: all [batch, z]. Pullback: d/dmu = g, d/dlogvar = g eps e^(logvar/2) / 2.
    /// Provenance: Kingma & Welling 2014, section 2.4.
    public static func reparameterize(mean: Tensor, logVariance: Tensor, noise: Tensor) -> Tensor {
        precondition(mean.shape == logVariance.shape && mean.shape == noise.shape,
                     "reparameterize: mean \(mean.shape), logVariance \(logVariance.shape), noise \(noise.shape)")
        let n = mean.count
        let mu = mean.data, lv = logVariance.data, eps = noise.data
        var std = [Float](repeating: 0, count: n)
        var z = [Float](repeating: 0, count: n)
        for i in 0..<n {
            std[i] = Foundation.exp(0.5 * lv[i])
            z[i] = mu[i] + eps[i] * std[i]
        }
        return Tensor(shape: mean.shape, data: z, inputs: [mean, logVariance]) { out in
            let g = out.grad!
            if mean.requiresGrad { mean.withGrad { d in for i in 0..<n { d[i] += g[i] } } }
            if logVariance.requiresGrad {
                logVariance.withGrad { d in for i in 0..<n { d[i] += g[i] * eps[i] * std[i] * 0.5 } }
            }
        }
    }

    /// Squared error summed: sum (a - b)^2. Shapes equal. Pullback: d/da = 2 (a - b), d/db = -2 (a - b).
    public static func squaredError(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "squaredError: \(a.shape) vs \(b.shape)")
        let n = a.count
        let x = a.data, y = b.data
        var total = 0.0
        for i in 0..<n { let d = Double(x[i] - y[i]); total += d * d }
        return Tensor(shape: [], data: [Float(total)], inputs: [a, b]) { out in
            let g = out.grad![0]
            if a.requiresGrad { a.withGrad { d in for i in 0..<n { d[i] += 2 * g * (x[i] - y[i]) } } }
            if b.requiresGrad { b.withGrad { d in for i in 0..<n { d[i] -= 2 * g * (x[i] - y[i]) } } }
        }
    }
}
