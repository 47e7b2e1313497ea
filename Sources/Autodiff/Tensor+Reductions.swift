extension Tensor {
    /// Sum of all elements, a scalar. Accumulated in Double.
    public func sum() -> Tensor {
        var total = 0.0
        data.withUnsafeBufferPointer { p in for v in p { total += Double(v) } }
        return Tensor(shape: [], data: [Float(total)], inputs: [self]) { out in
            let g = out.grad![0]
            self.withGrad { d in for i in 0..<d.count { d[i] += g } }
        }
    }

    /// Mean of all elements, a scalar.
    public func mean() -> Tensor {
        precondition(count > 0, "mean of an empty tensor")
        return sum().scaled(by: 1 / Float(count))
    }

    /// Sums a [rows, columns] matrix over its rows: result [columns].
    public func sumRows() -> Tensor {
        precondition(rank == 2, "sumRows needs a matrix, got \(shape)")
        let rows = shape[0], columns = shape[1]
        var s = [Double](repeating: 0, count: columns)
        data.withUnsafeBufferPointer { p in
            for r in 0..<rows { for c in 0..<columns { s[c] += Double(p[r * columns + c]) } }
        }
        return Tensor(shape: [columns], data: s.map { Float($0) }, inputs: [self]) { out in
            let g = out.grad!
            self.withGrad { d in for r in 0..<rows { for c in 0..<columns { d[r * columns + c] += g[c] } } }
        }
    }
}
