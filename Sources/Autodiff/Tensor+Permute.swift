// Axis permutation (a general transpose). The pullback sits right beside the forward.

extension Tensor {
    /// The tensor with its axes reordered, as PyTorch's `x.permute(*axes).contiguous()`:
    /// result.shape[i] == shape[axes[i]], and result[i_0, ..., i_{r-1}] == self[j] with j[axes[a]] = i_a.
    ///
    /// Shapes: any rank r >= 1; `axes` is a permutation of 0..<r. E.g. NCHW -> NHWC is `permuted([0, 2, 3, 1])`,
    /// NHWC -> NCHW is `permuted([0, 3, 1, 2])`, a matrix transpose is `permuted([1, 0])`.
    /// Pullback: the inverse permutation of the gradient (a scatter through the same index map).
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.count == rank && axes.sorted() == Array(0..<rank),
                     "permuted: axes \(axes) are not a permutation of 0..<\(rank) (shape \(shape))")
        let outputShape = axes.map { shape[$0] }
        if axes == Array(0..<rank) { return reshaped(outputShape) }
        if let blocks = Self.transposeBlocks(shape: shape, axes: axes) { return transposed(blocks, outputShape: outputShape) }
        let n = count
        // source[i]: the offset in self.data of output element i (row-major over outputShape).
        var inputStrides = [Int](repeating: 1, count: rank)
        for a in Swift.stride(from: rank - 2, through: 0, by: -1) { inputStrides[a] = inputStrides[a + 1] * shape[a + 1] }
        let strides = axes.map { inputStrides[$0] }
        var source = [Int](repeating: 0, count: n)
        if n > 0 {
            var index = [Int](repeating: 0, count: rank)
            var offset = 0
            for i in 0..<n {
                source[i] = offset
                // Advance the output odometer, keeping `offset` in step.
                var a = rank - 1
                while a >= 0 {
                    index[a] += 1
                    offset += strides[a]
                    if index[a] < outputShape[a] { break }
                    offset -= strides[a] * outputShape[a]
                    index[a] = 0
                    a -= 1
                }
            }
        }
        let x = data
        let y = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            x.withUnsafeBufferPointer { px in source.withUnsafeBufferPointer { ps in
                for i in 0..<n { out[i] = px[ps[i]] }
            } }
            initialized = n
        }
        return Tensor(shape: outputShape, data: y, inputs: [self]) { out in
            out.grad!.withUnsafeBufferPointer { g in source.withUnsafeBufferPointer { ps in self.withGrad { dx in
                for i in 0..<n { dx[ps[i]] += g[i] }
            } } }
        }
    }

    /// When `axes` swaps two adjacent groups of axes, [0..<a] + [b..<r] + [a..<b] (NCHW <-> NHWC, a matrix
    /// transpose), the permutation is a batch of matrix transposes: `outer` matrices [rows, columns] with
    /// outer = product of shape[0..<a], rows = product of shape[a..<b], columns = product of shape[b..<r].
    static func transposeBlocks(shape: [Int], axes: [Int]) -> (outer: Int, rows: Int, columns: Int)? {
        let r = shape.count
        guard let a = (0..<r).first(where: { axes[$0] != $0 }) else { return nil }
        let b = axes[a], moved = r - b
        guard b > a, Array(axes[a..<(a + moved)]) == Array(b..<r), Array(axes[(a + moved)...]) == Array(a..<b) else {
            return nil
        }
        return (shape[0..<a].reduce(1, *), shape[a..<b].reduce(1, *), shape[b...].reduce(1, *))
    }

    /// `permuted` for a batch of transposes (`transposeBlocks`): y[o, j, i] = x[o, i, j] for x [outer, rows,
    /// columns], over the workers by matrices. Pullback: dx[o, i, j] += dy[o, j, i], written new when dx is.
    private func transposed(_ blocks: (outer: Int, rows: Int, columns: Int), outputShape: [Int]) -> Tensor {
        let (outer, rows, columns) = blocks
        let size = rows * columns
        let x = data
        let y = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            let target = out.baseAddress!
            x.withUnsafeBufferPointer { px in
                Parallel.forEachRange(outer, itemSize: size) { range in
                    for o in range {
                        let src = px.baseAddress! + o * size, dst = target + o * size
                        for i in 0..<rows { for j in 0..<columns { dst[j &* rows &+ i] = src[i &* columns &+ j] } }
                    }
                }
            }
            initialized = count
        }
        return Tensor(shape: outputShape, data: y, inputs: [self]) { out in
            out.grad!.withUnsafeBufferPointer { g in
                self.withGrad(writingIfNew: { dx, isNew in
                    let target = dx.baseAddress!
                    Parallel.forEachRange(outer, itemSize: size) { range in
                        for o in range {
                            let src = g.baseAddress! + o * size, dst = target + o * size
                            if isNew {
                                for i in 0..<rows { for j in 0..<columns { dst[i &* columns &+ j] = 0 + src[j &* rows &+ i] } }
                            } else {
                                for i in 0..<rows { for j in 0..<columns { dst[i &* columns &+ j] += src[j &* rows &+ i] } }
                            }
                        }
                    }
                })
            }
        }
    }
}
