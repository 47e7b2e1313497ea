// Row gathers and transposition: moving values between layouts. Each op's pullback sits right beside its forward.

extension Tensor {
    /// Rows of a matrix picked by index, with repeats allowed: out[r, :] = self[indices[r], :].
    ///
    /// Shapes: self [rows, columns] -> [indices.count, columns]; every index in 0..<rows.
    /// Broadcasts per-component parameters over a batch (`repeatedRowIndices`: row y*B + b <- y) and tiles a
    /// batch once per component (`tiledRowIndices`: row y*B + b <- b).
    /// Pullback: scatter-add, d self[i, :] = sum over r with indices[r] == i of dout[r, :].
    public func gatheringRows(_ indices: [Int]) -> Tensor {
        precondition(rank == 2, "gatheringRows needs a matrix, got \(shape)")
        let rows = shape[0], columns = shape[1]
        precondition(indices.allSatisfy { (0..<rows).contains($0) }, "gatheringRows: index out of 0..<\(rows)")
        let source = data
        let n = indices.count * columns
        let values = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            let target = out.baseAddress!
            source.withUnsafeBufferPointer { src in indices.withUnsafeBufferPointer { pi in
                Parallel.forEachRange(pi.count, itemSize: columns) { range in
                    for r in range { (target + r * columns).update(from: src.baseAddress! + pi[r] * columns, count: columns) }
                }
            } }
            initialized = n
        }
        return Tensor(shape: [indices.count, columns], data: values, inputs: [self]) { out in
            // Columns over the workers (rows of the result may share a source row); every entry adds its
            // gradients in row order, whatever the split.
            self.withGrad { d in out.grad!.withUnsafeBufferPointer { pg in indices.withUnsafeBufferPointer { pi in
                Parallel.forEachRange(columns, itemSize: pi.count) { range in
                    for r in 0..<pi.count {
                        let dst = d.baseAddress! + pi[r] * columns, src = pg.baseAddress! + r * columns
                        for c in range { dst[c] += src[c] }
                    }
                }
            } } }
        }
    }

    /// Matrix transpose: out[j, i] = self[i, j]. Shapes: [m, n] -> [n, m]. Pullback: d self = dout^T.
    /// (`permuted([1, 0])`: one batched transpose.)
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed needs a matrix, got \(shape)")
        return permuted([1, 0])
    }
}

/// Row indices that repeat each of `count` rows `each` times in a row: [0 x each, 1 x each, ...].
/// With `gatheringRows`, turns per-component parameters [K, d] into [K*B, d] (row y*B + b holds component y).
public func repeatedRowIndices(count: Int, each: Int) -> [Int] {
    (0..<count).flatMap { [Int](repeating: $0, count: each) }
}

/// Row indices that tile `count` rows `times` times over: [0..<count, 0..<count, ...].
/// With `gatheringRows`, turns a batch [B, d] into [K*B, d] (row y*B + b holds image b).
public func tiledRowIndices(count: Int, times: Int) -> [Int] {
    (0..<times).flatMap { _ in 0..<count }
}
