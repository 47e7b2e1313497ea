import LinearAlgebra

// An affine map whose weight is masked to a prefix of its columns in every row (MADE's masks with sorted
// degrees), computed block by block so that the masked-out part is mostly skipped. The pullback sits right
// beside the forward.

extension Tensor {
    /// y = x (W . M)^T + b with the row-prefix mask M[r, c] = [c < lengths[r]], lengths non-decreasing.
    ///
    /// Shapes: x [batch, in], weight [out, in], bias [out], `lengths` out values in 0...in -> y [batch, out].
    /// The same function as `linear(x, weight: weight * M, bias: bias)`: weight entries outside the mask are
    /// ignored and get zero gradient. Rows are processed in blocks of `blockRows`; block [r0, r1) multiplies
    /// only the first lengths[r1 - 1] columns, so about half of a triangular mask's products are skipped
    /// (with B blocks, a fraction 1/2 + 1/(2B) of the dense work is done).
    /// Pullback: dx = dy (W . M), dW = (dy^T x) . M, db = sum over the batch of dy.
    /// Provenance: MADE (Germain et al. 2015) masks with degrees sorted, which makes every mask a row prefix.
    public static func prefixMaskedLinear(_ x: Tensor, weight: Tensor, bias: Tensor, lengths: [Int],
                                          blockRows: Int = 128) -> Tensor {
        precondition(x.rank == 2 && weight.rank == 2 && bias.rank == 1
                     && x.shape[1] == weight.shape[1] && bias.shape[0] == weight.shape[0] && lengths.count == weight.shape[0],
                     "prefixMaskedLinear: x \(x.shape), weight \(weight.shape), bias \(bias.shape), \(lengths.count) lengths")
        let batch = x.shape[0], inFeatures = x.shape[1], outFeatures = weight.shape[0]
        precondition(blockRows >= 1 && zip(lengths, lengths.dropFirst()).allSatisfy { $0 <= $1 }
                     && lengths.allSatisfy { (0...inFeatures).contains($0) },
                     "prefixMaskedLinear: lengths must be non-decreasing in 0...\(inFeatures), block rows >= 1")
        let blocks = stride(from: 0, to: outFeatures, by: blockRows).map { ($0, min($0 + blockRows, outFeatures)) }
        // The products read, in block [r0, r1), the first lengths[r1 - 1] columns of every row: entries of rows
        // r with lengths[r] <= c < lengths[r1 - 1] are outside the mask. They are zero when the weight was
        // initialised masked and trained with masked gradients (the usual case); otherwise the products use a copy
        // with them zeroed, so the forward never depends on entries outside the mask.
        func outsideEntriesAreZero(_ w: UnsafeBufferPointer<Float>) -> Bool {
            for (r0, r1) in blocks {
                let width = lengths[r1 - 1]
                for r in r0..<r1 where lengths[r] < width {
                    for c in lengths[r]..<width where w[r * inFeatures + c] != 0 { return false }
                }
            }
            return true
        }
        var masked = weight.data
        if !masked.withUnsafeBufferPointer(outsideEntriesAreZero) {
            for r in 0..<outFeatures { for c in lengths[r]..<inFeatures { masked[r * inFeatures + c] = 0 } }
        }
        var y = [Float](unsafeUninitializedCapacity: batch * outFeatures) { p, initialized in
            bias.data.withUnsafeBufferPointer { b in
                for r in 0..<batch { for c in 0..<outFeatures { p[r * outFeatures + c] = b[c] } }
            }
            initialized = batch * outFeatures
        }
        x.data.withUnsafeBufferPointer { px in masked.withUnsafeBufferPointer { pw in y.withUnsafeMutableBufferPointer { py in
            for (r0, r1) in blocks where lengths[r1 - 1] > 0 {
                BLAS.gemm(.none, .transposed, m: batch, n: r1 - r0, k: lengths[r1 - 1], a: px.baseAddress!, lda: inFeatures,
                          b: pw.baseAddress! + r0 * inFeatures, ldb: inFeatures, beta: 1,
                          c: py.baseAddress! + r0, ldc: outFeatures)
            }
        } } }
        return Tensor(shape: [batch, outFeatures], data: y, inputs: [x, weight, bias]) { out in
            out.grad!.withUnsafeBufferPointer { g in
                if x.requiresGrad {
                    masked.withUnsafeBufferPointer { pw in x.withGrad { dx in
                        for (r0, r1) in blocks where lengths[r1 - 1] > 0 {
                            BLAS.gemm(.none, .none, m: batch, n: lengths[r1 - 1], k: r1 - r0, a: g.baseAddress! + r0,
                                      lda: outFeatures, b: pw.baseAddress! + r0 * inFeatures, ldb: inFeatures, beta: 1,
                                      c: dx.baseAddress!, ldc: inFeatures)
                        }
                    } }
                }
                if weight.requiresGrad {
                    // Each block's product added straight into dW; the entries outside the mask that it touched
                    // are saved before and put back after, so they receive nothing from this op.
                    var saved: [Float] = []
                    x.data.withUnsafeBufferPointer { px in weight.withGrad { dw in
                        for (r0, r1) in blocks where lengths[r1 - 1] > 0 {
                            let width = lengths[r1 - 1]
                            saved.removeAll(keepingCapacity: true)
                            for r in r0..<r1 where lengths[r] < width {
                                for c in lengths[r]..<width { saved.append(dw[r * inFeatures + c]) }
                            }
                            BLAS.gemm(.transposed, .none, m: r1 - r0, n: width, k: batch, a: g.baseAddress! + r0, lda: outFeatures,
                                      b: px.baseAddress!, ldb: inFeatures, beta: 1, c: dw.baseAddress! + r0 * inFeatures,
                                      ldc: inFeatures)
                            var next = 0
                            for r in r0..<r1 where lengths[r] < width {
                                for c in lengths[r]..<width { dw[r * inFeatures + c] = saved[next]; next += 1 }
                            }
                        }
                    } }
                }
                if bias.requiresGrad {
                    bias.withGrad { db in
                        for r in 0..<batch { for c in 0..<outFeatures { db[c] += g[r * outFeatures + c] } }
                    }
                }
            }
        }
    }
}
