extension Tensor {
    /// Batch normalisation as PyTorch's `F.batch_norm` (the op of `nn.BatchNorm1d` and `nn.BatchNorm2d`).
    ///
    /// Shapes: x [N, C, *] (S = the product of the trailing dimensions, 1 for [N, C]), weight, bias, runningMean,
    /// runningVariance [C] -> y with the shape of x. Per channel c, over the M = N * S values x_c of the channel:
    /// - training: μ = mean(x_c), σ² = mean((x_c - μ)²) (biased), y = (x - μ) / sqrt(σ² + ε) * weight + bias, and the
    ///   running estimates move in place: mean <- (1 - momentum) mean + momentum μ,
    ///   var <- (1 - momentum) var + momentum σ² M / (M - 1) (unbiased); M must be above 1.
    /// - evaluation: μ, σ² are the running estimates, which stay unchanged.
    /// Pullback, with x̂ = (x - μ) / sqrt(σ² + ε): dbias = Σ dy, dweight = Σ dy x̂; in training
    /// dx = weight / sqrt(σ² + ε) (dy - dbias / M - x̂ dweight / M) (μ and σ² depend on x), in evaluation
    /// dx = weight / sqrt(σ² + ε) dy. The running estimates get no gradient.
    /// Sums over a channel run in Double in the fixed order (n, s), and workers take whole channels, so the result
    /// is the same for any thread count.
    public static func batchNorm(_ x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVariance: Tensor,
                                 training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5) -> Tensor {
        precondition(x.rank >= 2, "batchNorm: x must be [N, C, ...], got \(x.shape)")
        let batch = x.shape[0], channels = x.shape[1], spatial = x.shape.dropFirst(2).reduce(1, *)
        for (name, t) in [("weight", weight), ("bias", bias), ("runningMean", runningMean), ("runningVariance", runningVariance)] {
            precondition(t.shape == [channels], "batchNorm: \(name) \(t.shape) does not match the \(channels) channels of x \(x.shape)")
        }
        let m = batch * spatial
        precondition(!training || m > 1, "batchNorm: training needs more than 1 value per channel, got x \(x.shape)")
        let n = x.count
        // Per channel: the mean and 1 / sqrt(var + eps) used (batch statistics or running estimates). Copied into
        // constants below: closures that capture a `var` array access it through a box on every element.
        var channelMean = [Double](repeating: 0, count: channels)
        var channelInverseStd = [Double](repeating: 0, count: channels)
        let input = x.data
        if training {
            var variance = [Double](repeating: 0, count: channels)
            input.withUnsafeBufferPointer { px in channelMean.withUnsafeMutableBufferPointer { pm in
                variance.withUnsafeMutableBufferPointer { pv in
                    Parallel.forEachRange(channels, itemSize: m) { range in
                        forEachChannelRun(batch: batch, channels: channels, spatial: spatial, range: range) { c, start in
                            var total = 0.0
                            for i in start..<(start + spatial) { total += Double(px[i]) }
                            pm[c] += total
                        }
                        for c in range { pm[c] /= Double(m) }
                        forEachChannelRun(batch: batch, channels: channels, spatial: spatial, range: range) { c, start in
                            var total = 0.0
                            let mu = pm[c]
                            for i in start..<(start + spatial) { let d = Double(px[i]) - mu; total += d * d }
                            pv[c] += total
                        }
                        for c in range { pv[c] /= Double(m) }
                    }
                }
            } }
            let keep = 1 - momentum
            for c in 0..<channels {
                channelInverseStd[c] = 1 / (variance[c] + Double(epsilon)).squareRoot()
                runningMean.data[c] = keep * runningMean.data[c] + momentum * Float(channelMean[c])
                runningVariance.data[c] = keep * runningVariance.data[c]
                    + momentum * Float(variance[c] * Double(m) / Double(m - 1))
            }
        } else {
            for c in 0..<channels {
                channelMean[c] = Double(runningMean.data[c])
                channelInverseStd[c] = 1 / (Double(runningVariance.data[c]) + Double(epsilon)).squareRoot()
            }
        }
        let mean = channelMean, inverseStd = channelInverseStd
        let scale = (0..<channels).map { Double(weight.data[$0]) * inverseStd[$0] }
        let shift = bias.data.map(Double.init)
        let y = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            let target = out.baseAddress!
            input.withUnsafeBufferPointer { px in
                Parallel.forEachRange(batch * channels, itemSize: spatial) { rows in
                    for row in rows {
                        let c = row % channels, mu = mean[c], a = scale[c], b = shift[c]
                        for i in (row * spatial)..<((row + 1) * spatial) { target[i] = Float((Double(px[i]) - mu) * a + b) }
                    }
                }
            }
            initialized = n
        }
        return Tensor(shape: x.shape, data: y, inputs: [x, weight, bias]) { out in
            out.grad!.withUnsafeBufferPointer { pg in input.withUnsafeBufferPointer { px in
                // dbias and dweight per channel, in Double.
                var sumGrad = [Double](repeating: 0, count: channels)
                var sumGradXHat = [Double](repeating: 0, count: channels)
                sumGrad.withUnsafeMutableBufferPointer { sg in sumGradXHat.withUnsafeMutableBufferPointer { sgx in
                    Parallel.forEachRange(channels, itemSize: m) { range in
                        forEachChannelRun(batch: batch, channels: channels, spatial: spatial, range: range) { c, start in
                            var g = 0.0, gx = 0.0
                            let mu = mean[c], s = inverseStd[c]
                            for i in start..<(start + spatial) {
                                let d = Double(pg[i])
                                g += d
                                gx += d * (Double(px[i]) - mu) * s
                            }
                            sg[c] += g
                            sgx[c] += gx
                        }
                    }
                } }
                if bias.requiresGrad { bias.withGrad { db in for c in 0..<channels { db[c] += Float(sumGrad[c]) } } }
                if weight.requiresGrad { weight.withGrad { dw in for c in 0..<channels { dw[c] += Float(sumGradXHat[c]) } } }
                guard x.requiresGrad else { return }
                let count = Double(m), gradSums = sumGrad, gradXHatSums = sumGradXHat
                x.withGrad(writingIfNew: { dx, isNew in
                    let target = dx.baseAddress!
                    Parallel.forEachRange(batch * channels, itemSize: spatial) { rows in
                        for row in rows {
                            let c = row % channels, mu = mean[c], s = inverseStd[c], a = scale[c]
                            let meanGrad = training ? gradSums[c] / count : 0
                            let meanGradXHat = training ? gradXHatSums[c] / count : 0
                            for i in (row * spatial)..<((row + 1) * spatial) {
                                let xHat = (Double(px[i]) - mu) * s
                                let value = Float(a * (Double(pg[i]) - meanGrad - xHat * meanGradXHat))
                                if isNew { target[i] = value } else { target[i] += value }
                            }
                        }
                    }
                })
            } }
        }
    }

    /// Calls `body(c, start)` for every run of `spatial` consecutive values of the channels in `range`, in the order
    /// (n, c): each channel's runs come in batch order, whatever the range.
    @inline(__always)
    private static func forEachChannelRun(batch: Int, channels: Int, spatial: Int, range: Range<Int>,
                                          _ body: (_ channel: Int, _ start: Int) -> Void) {
        for b in 0..<batch {
            for c in range { body(c, (b * channels + c) * spatial) }
        }
    }
}
