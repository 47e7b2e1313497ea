import LinearAlgebra

extension Tensor {
    /// Matrix product: self [m, k] x other [k, n] -> [m, n] (BLAS sgemm).
    /// Pullback: dA = dC B^T, dB = A^T dC, accumulated straight into the gradients (beta = 1).
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank == 2 && other.rank == 2 && shape[1] == other.shape[0],
                     "matmul of \(shape) and \(other.shape)")
        let m = shape[0], k = shape[1], n = other.shape[1]
        let a = self, b = other
        var c = [Float](repeating: 0, count: m * n)
        a.data.withUnsafeBufferPointer { pa in b.data.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            BLAS.gemm(.none, .none, m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                      c: pc.baseAddress!, ldc: n)
        } } }
        return Tensor(shape: [m, n], data: c, inputs: [a, b]) { out in
            out.grad!.withUnsafeBufferPointer { g in
                if a.requiresGrad {
                    b.data.withUnsafeBufferPointer { pb in a.withGrad { da in
                        BLAS.gemm(.none, .transposed, m: m, n: k, k: n, a: g.baseAddress!, lda: n,
                                  b: pb.baseAddress!, ldb: n, beta: 1, c: da.baseAddress!, ldc: k)
                    } }
                }
                if b.requiresGrad {
                    a.data.withUnsafeBufferPointer { pa in b.withGrad { db in
                        BLAS.gemm(.transposed, .none, m: k, n: n, k: m, a: pa.baseAddress!, lda: k,
                                  b: g.baseAddress!, ldb: n, beta: 1, c: db.baseAddress!, ldc: n)
                    } }
                }
            }
        }
    }

    /// Affine map as PyTorch's nn.Linear: y = x W^T + b.
    ///
    /// Shapes: x [batch, in], weight [out, in], bias [out] -> y [batch, out].
    /// Pullback: dx = dy W, dW = dy^T x, db = sum over the batch of dy.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor) -> Tensor {
        precondition(x.rank == 2 && weight.rank == 2 && bias.rank == 1
                     && x.shape[1] == weight.shape[1] && bias.shape[0] == weight.shape[0],
                     "linear: x \(x.shape), weight \(weight.shape), bias \(bias.shape)")
        let batch = x.shape[0], inFeatures = x.shape[1], outFeatures = weight.shape[0]
        var y = [Float](unsafeUninitializedCapacity: batch * outFeatures) { p, initialized in
            bias.data.withUnsafeBufferPointer { b in
                Parallel.forEachRange(batch, itemSize: outFeatures) { rows in
                    for r in rows { (p.baseAddress! + r * outFeatures).update(from: b.baseAddress!, count: outFeatures) }
                }
            }
            initialized = batch * outFeatures
        }
        x.data.withUnsafeBufferPointer { px in weight.data.withUnsafeBufferPointer { pw in y.withUnsafeMutableBufferPointer { py in
            BLAS.gemm(.none, .transposed, m: batch, n: outFeatures, k: inFeatures, a: px.baseAddress!, lda: inFeatures,
                      b: pw.baseAddress!, ldb: inFeatures, beta: 1, c: py.baseAddress!, ldc: outFeatures)
        } } }
        return Tensor(shape: [batch, outFeatures], data: y, inputs: [x, weight, bias]) { out in
            out.grad!.withUnsafeBufferPointer { g in
                if x.requiresGrad {
                    weight.data.withUnsafeBufferPointer { pw in x.withGrad { dx in
                        BLAS.gemm(.none, .none, m: batch, n: inFeatures, k: outFeatures, a: g.baseAddress!, lda: outFeatures,
                                  b: pw.baseAddress!, ldb: inFeatures, beta: 1, c: dx.baseAddress!, ldc: inFeatures)
                    } }
                }
                if weight.requiresGrad {
                    x.data.withUnsafeBufferPointer { px in weight.withGrad { dw in
                        BLAS.gemm(.transposed, .none, m: outFeatures, n: inFeatures, k: batch, a: g.baseAddress!, lda: outFeatures,
                                  b: px.baseAddress!, ldb: inFeatures, beta: 1, c: dw.baseAddress!, ldc: inFeatures)
                    } }
                }
                if bias.requiresGrad {
                    // Columns split over the workers; each column summed over the rows in order.
                    bias.withGrad { db in
                        Parallel.forEachRange(outFeatures, itemSize: batch) { columns in
                            for r in 0..<batch {
                                let row = g.baseAddress! + r * outFeatures
                                for c in columns { db[c] += row[c] }
                            }
                        }
                    }
                }
            }
        }
    }
}
