import LinearAlgebra

/// A convolution with its batch norm folded in, then a ReLU, for inference over channels-last `FeatureMap`s:
/// y[n, i, j, o] = max(0, bias[o] + sum over (ki, kj, c) of weights[(ki*L + kj)*C + c, o] x[n, i*s - ph + ki, j*s - pw + kj, c])
/// with x = 0 outside the image, for a K x L kernel (any rectangle), stride s and padding (ph, pw).
///
/// `weights` is [K*L*C, O] row-major (the window's entries in (ki, kj, c) order, the order of the column matrix
/// below); `bias` [O]. From a PyTorch conv weight w [O, C, K, L] and batch norm (gamma, beta, mean, var, eps):
/// weights[(ki*L + kj)*C + c, o] = w[o, c, ki, kj] * g[o], bias[o] = beta[o] - mean[o] * g[o],
/// g = gamma / sqrt(var + eps) (`init(pytorch:...)`, in Double).
///
/// The product: a 1 x 1 stride-1 convolution multiplies the input rows themselves ([positions, C] x [C, O]);
/// other kernels first copy the windows of a chunk of output positions into a column matrix [rows, K*L*C] (in this
/// layout one window row is L*C consecutive floats when the input is not a slice), then one sgemm; bias and ReLU
/// follow on the chunk while it is in cache. Everything runs on the calling thread (callers parallelise over images),
/// so the result does not depend on the thread count.
struct FoldedConvolution: Sendable {
    let inputChannels: Int, outputChannels: Int
    let kernelHeight: Int, kernelWidth: Int
    let stride: Int, paddingHeight: Int, paddingWidth: Int
    /// [K*L*C, O] row-major.
    var weights: [Float]
    /// [O].
    var bias: [Float]

    init(inputChannels: Int, outputChannels: Int, kernelHeight: Int, kernelWidth: Int, stride: Int = 1,
         paddingHeight: Int = 0, paddingWidth: Int = 0, weights: [Float], bias: [Float]) {
        precondition(weights.count == kernelHeight * kernelWidth * inputChannels * outputChannels && bias.count == outputChannels,
                     "FoldedConvolution: \(weights.count) weights and \(bias.count) biases for \(kernelHeight)x\(kernelWidth)x\(inputChannels) -> \(outputChannels)")
        self.inputChannels = inputChannels; self.outputChannels = outputChannels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.paddingHeight = paddingHeight; self.paddingWidth = paddingWidth
        self.weights = weights; self.bias = bias
    }

    /// Folds a PyTorch conv weight `w` ([O, C, K, L] row-major) and batch norm into weights and bias (see the type).
    init(pytorch w: [Float], outputChannels: Int, inputChannels: Int, kernelHeight: Int, kernelWidth: Int,
         stride: Int = 1, paddingHeight: Int = 0, paddingWidth: Int = 0,
         gamma: [Float], beta: [Float], mean: [Float], variance: [Float], epsilon: Double) {
        let (o, c, k, l) = (outputChannels, inputChannels, kernelHeight, kernelWidth)
        precondition(w.count == o * c * k * l && [gamma, beta, mean, variance].allSatisfy { $0.count == o },
                     "FoldedConvolution: weight of \(w.count) values or batch-norm vectors do not fit [\(o), \(c), \(k), \(l)]")
        var weights = [Float](repeating: 0, count: o * c * k * l), bias = [Float](repeating: 0, count: o)
        for out in 0..<o {
            let g = Double(gamma[out]) / (Double(variance[out]) + epsilon).squareRoot()
            bias[out] = Float(Double(beta[out]) - Double(mean[out]) * g)
            for ch in 0..<c { for ki in 0..<k { for kj in 0..<l {
                weights[((ki * l + kj) * c + ch) * o + out] = Float(Double(w[((out * c + ch) * k + ki) * l + kj]) * g)
            } } }
        }
        self.init(inputChannels: c, outputChannels: o, kernelHeight: k, kernelWidth: l, stride: stride,
                  paddingHeight: paddingHeight, paddingWidth: paddingWidth, weights: weights, bias: bias)
    }

    /// Convolutions reading the same input side by side: one product whose output channels are theirs in order
    /// (the 1 x 1 branches that open an Inception block). All must have the same geometry and input channels.
    init(concatenating parts: [FoldedConvolution]) {
        let first = parts[0]
        precondition(parts.allSatisfy {
            $0.inputChannels == first.inputChannels && $0.kernelHeight == first.kernelHeight && $0.kernelWidth == first.kernelWidth
                && $0.stride == first.stride && $0.paddingHeight == first.paddingHeight && $0.paddingWidth == first.paddingWidth
        }, "FoldedConvolution(concatenating:): the parts' geometries differ")
        let rows = first.kernelHeight * first.kernelWidth * first.inputChannels
        let total = parts.reduce(0) { $0 + $1.outputChannels }
        var weights = [Float](repeating: 0, count: rows * total)
        var offset = 0
        for part in parts {
            for r in 0..<rows { for o in 0..<part.outputChannels { weights[r * total + offset + o] = part.weights[r * part.outputChannels + o] } }
            offset += part.outputChannels
        }
        self.init(inputChannels: first.inputChannels, outputChannels: total, kernelHeight: first.kernelHeight,
                  kernelWidth: first.kernelWidth, stride: first.stride, paddingHeight: first.paddingHeight,
                  paddingWidth: first.paddingWidth, weights: weights, bias: parts.flatMap(\.bias))
    }

    /// Entries of one window, the width of the column matrix: K*L*C.
    var windowSize: Int { kernelHeight * kernelWidth * inputChannels }
    func outputHeight(_ height: Int) -> Int { (height + 2 * paddingHeight - kernelHeight) / stride + 1 }
    func outputWidth(_ width: Int) -> Int { (width + 2 * paddingWidth - kernelWidth) / stride + 1 }
    /// Multiply-adds per output position: K*L*C*O.
    var multiplyAddsPerPosition: Int { windowSize * outputChannels }
    /// Whether the product can read the input rows directly (no column matrix).
    var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && paddingHeight == 0 && paddingWidth == 0 }

    /// Floats of column-matrix scratch `apply` wants (0 for a pointwise convolution).
    func columnScratch(positions: Int) -> Int { isPointwise ? 0 : chunkRows(positions) * windowSize }

    /// Output positions per product: enough rows that the weights, packed by every sgemm call, are reused many
    /// times, within about `columnBudget` floats of column matrix, at least `minimumChunk`.
    func chunkRows(_ positions: Int) -> Int {
        Swift.min(positions, Swift.max(minimumChunk, columnBudget / windowSize))
    }
    /// Floats of column matrix per product (4 MiB), and the fewest rows of a product (tests lower both to cut
    /// small maps into several products).
    var columnBudget = 1 << 20
    var minimumChunk = 256

    /// Writes max(0, conv(x) + bias) into `y` (which may be a channel slice of a wider map), using `columns` as the
    /// column matrix (at least `columnScratch(positions: y.positions)` floats).
    func apply(_ x: FeatureMap, into y: FeatureMap, columns: UnsafeMutablePointer<Float>?) {
        let ho = outputHeight(x.height), wo = outputWidth(x.width)
        precondition(x.channels == inputChannels && y.images == x.images && y.height == ho && y.width == wo
                        && y.channels == outputChannels,
                     "FoldedConvolution: \(x.images)x\(x.height)x\(x.width)x\(x.channels) -> \(y.images)x\(y.height)x\(y.width)x\(y.channels), want \(inputChannels) -> \(ho)x\(wo)x\(outputChannels)")
        let positions = y.positions, rows = chunkRows(positions), k = windowSize
        weights.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                var start = 0
                while start < positions {
                    let count = Swift.min(rows, positions - start)
                    let output = y.base + start * y.rowStride
                    if isPointwise {
                        BLAS.gemm(.none, .none, m: count, n: outputChannels, k: k, a: x.base + start * x.rowStride,
                                  lda: x.rowStride, b: w.baseAddress!, ldb: outputChannels, c: output, ldc: y.rowStride,
                                  parallel: false)
                    } else {
                        let columns = columns!
                        gatherWindows(x, outputHeight: ho, outputWidth: wo, positions: start..<(start + count), into: columns)
                        BLAS.gemm(.none, .none, m: count, n: outputChannels, k: k, a: columns, lda: k,
                                  b: w.baseAddress!, ldb: outputChannels, c: output, ldc: y.rowStride, parallel: false)
                    }
                    addBiasAndReLU(output, rows: count, rowStride: y.rowStride, bias: b.baseAddress!)
                    start += count
                }
            }
        }
    }

    /// out[r, :] = max(0, out[r, :] + bias) for `rows` rows of `outputChannels` floats, `rowStride` apart.
    private func addBiasAndReLU(_ output: UnsafeMutablePointer<Float>, rows: Int, rowStride: Int, bias: UnsafePointer<Float>) {
        let n = outputChannels
        for r in 0..<rows {
            let row = output + r * rowStride
            for o in 0..<n { row[o] = Swift.max(0, row[o] + bias[o]) }
        }
    }

    /// Row p - positions.lowerBound of `columns` = the window of output position p (image, i, j), (ki, kj, c) order,
    /// zeros outside the image.
    private func gatherWindows(_ x: FeatureMap, outputHeight ho: Int, outputWidth wo: Int, positions: Range<Int>,
                               into columns: UnsafeMutablePointer<Float>) {
        let c = inputChannels, l = kernelWidth, k = windowSize, dense = x.rowStride == c
        var row = columns
        for p in positions {
            let n = p / (ho * wo), i = (p / wo) % ho, j = p % wo
            let top = i * stride - paddingHeight, left = j * stride - paddingWidth
            // Columns kj with left + kj inside 0..<width.
            let first = Swift.max(0, -left), last = Swift.min(l, x.width - left)
            for ki in 0..<kernelHeight {
                let target = row + ki * l * c
                let r = top + ki
                guard r >= 0 && r < x.height && first < last else { target.update(repeating: 0, count: l * c); continue }
                if first > 0 { target.update(repeating: 0, count: first * c) }
                if last < l { (target + last * c).update(repeating: 0, count: (l - last) * c) }
                if dense {
                    (target + first * c).update(from: x.at(n, r, left + first), count: (last - first) * c)
                } else {
                    for kj in first..<last { (target + kj * c).update(from: x.at(n, r, left + kj), count: c) }
                }
            }
            row += k
        }
    }
}
