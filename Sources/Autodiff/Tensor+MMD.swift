import Foundation

// Maximum mean discrepancy between two sets of points, as the WAE-MMD penalty. The pullback sits right
// beside the forward.

extension Tensor {
    /// The unbiased estimate of MMD^2 between the rows of `x` [n, d] and the rows of `y` [m, d] under the
    /// inverse multiquadratic kernel k_C(a, b) = C / (C + ||a - b||^2), summed over the kernel constants C
    /// in `constants`:
    ///
    ///     sum over C of [ sum_{i != j} k_C(x_i, x_j) / (n (n - 1)) + sum_{i != j} k_C(y_i, y_j) / (m (m - 1))
    ///                     - 2 sum_{i, j} k_C(x_i, y_j) / (n m) ]
    ///
    /// A scalar. Unbiased means the diagonal terms k(x_i, x_i) = 1 are left out, so the estimate can be slightly
    /// negative when the two sets come from the same distribution; its expectation is then 0.
    /// Shapes: x [n, d], y [m, d], n, m >= 2; every constant > 0. Computed in Double (the sets are batches of
    /// codes: a few hundred points of a few dozen dimensions, so the O((n + m)^2 d) loops cost little).
    /// Pullback, with w_ab = sum over C of dk_C/dr at r = ||a - b||^2, i.e. -C / (C + r)^2:
    ///     dx_i = 4/(n(n-1)) sum_{j != i} w(x_i, x_j) (x_i - x_j) - 4/(nm) sum_j w(x_i, y_j) (x_i - y_j),
    ///     dy_j = 4/(m(m-1)) sum_{i != j} w(y_j, y_i) (y_j - y_i) - 4/(nm) sum_i w(x_i, y_j) (y_j - x_i).
    /// Provenance: Gretton et al. 2012 (unbiased MMD^2, eq. 3); Tolstikhin et al. 2018 and their reference
    /// implementation (tolstikhin/wae, `mmd_penalty`, IMQ kernel with C = scale * 2 * z * sigma^2 over
    /// scales .1 ... 10).
    public static func inverseMultiquadraticMMD(_ x: Tensor, _ y: Tensor, constants: [Float]) -> Tensor {
        precondition(x.rank == 2 && y.rank == 2 && x.shape[1] == y.shape[1],
                     "inverseMultiquadraticMMD: x \(x.shape) and y \(y.shape) must be [n, d] and [m, d]")
        precondition(x.shape[0] >= 2 && y.shape[0] >= 2,
                     "inverseMultiquadraticMMD: needs at least 2 points in each set, got \(x.shape[0]) and \(y.shape[0])")
        precondition(!constants.isEmpty && constants.allSatisfy { $0 > 0 && $0.isFinite },
                     "inverseMultiquadraticMMD: kernel constants must be positive, got \(constants)")
        let n = x.shape[0], m = y.shape[0], d = x.shape[1]
        let xs = x.data.map(Double.init), ys = y.data.map(Double.init)
        let cs = constants.map(Double.init)

        /// Kernel sum over the pairs of the matrix `rows` x `columns` (rows split over the workers, row sums added in
        /// row order, so the value does not depend on the thread count) and the matrix of slopes (row-major): for each
        /// pair, the sum over C of k_C at squared distance r, and of its derivative with respect to r.
        func pairs(_ a: [Double], _ rows: Int, _ b: [Double], _ columns: Int, skipDiagonal: Bool)
            -> (sum: Double, slopes: [Double]) {
            var rowSums = [Double](repeating: 0, count: rows)
            var slopes = [Double](repeating: 0, count: rows * columns)
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in cs.withUnsafeBufferPointer { pc in
            rowSums.withUnsafeMutableBufferPointer { sums in slopes.withUnsafeMutableBufferPointer { ps in
                Parallel.forEachRange(rows, itemSize: columns * d) { range in
                    for i in range {
                        let ai = pa.baseAddress! + i * d
                        var total = 0.0
                        for j in 0..<columns where !(skipDiagonal && i == j) {
                            let bj = pb.baseAddress! + j * d
                            var r = 0.0
                            for k in 0..<d { let t = ai[k] - bj[k]; r += t * t }
                            var value = 0.0, slope = 0.0
                            for c in pc { let inverse = 1 / (c + r); value += c * inverse; slope -= c * inverse * inverse }
                            total += value
                            ps[i * columns + j] = slope
                        }
                        sums[i] = total
                    }
                }
            } } } } }
            return (rowSums.reduce(0, +), slopes)
        }
        /// d[i, :] += sum over j != i (if `skipDiagonal`) of scale * slopes[i, j] * (a_i - b_j), rows over the workers.
        func addGradient(_ d: inout [Double], _ a: [Double], _ rows: Int, _ b: [Double], _ columns: Int,
                         slopes: [Double], transposed: Bool, scale: Double, skipDiagonal: Bool) {
            let dimension = x.shape[1]
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in slopes.withUnsafeBufferPointer { ps in
            d.withUnsafeMutableBufferPointer { pd in
                Parallel.forEachRange(rows, itemSize: columns * dimension) { range in
                    for i in range {
                        let ai = pa.baseAddress! + i * dimension, di = pd.baseAddress! + i * dimension
                        for j in 0..<columns where !(skipDiagonal && i == j) {
                            let s = scale * (transposed ? ps[j * rows + i] : ps[i * columns + j])
                            let bj = pb.baseAddress! + j * dimension
                            for k in 0..<dimension { di[k] += s * (ai[k] - bj[k]) }
                        }
                    }
                }
            } } } }
        }
        let xx = pairs(xs, n, xs, n, skipDiagonal: true)
        let yy = pairs(ys, m, ys, m, skipDiagonal: true)
        let xy = pairs(xs, n, ys, m, skipDiagonal: false)
        let wxx = 1 / Double(n * (n - 1)), wyy = 1 / Double(m * (m - 1)), wxy = 2 / Double(n * m)
        let value = wxx * xx.sum + wyy * yy.sum - wxy * xy.sum

        return Tensor(shape: [], data: [Float(value)], inputs: [x, y]) { out in
            let g = Double(out.grad![0])
            if x.requiresGrad {
                // Each unordered pair {i, j} appears twice in the sum over i != j: hence 2 * 2 (x_i - x_j).
                var dx = [Double](repeating: 0, count: n * d)
                addGradient(&dx, xs, n, xs, n, slopes: xx.slopes, transposed: false, scale: 4 * wxx, skipDiagonal: true)
                addGradient(&dx, xs, n, ys, m, slopes: xy.slopes, transposed: false, scale: -2 * wxy, skipDiagonal: false)
                x.withGrad { p in for i in 0..<(n * d) { p[i] += Float(g * dx[i]) } }
            }
            if y.requiresGrad {
                var dy = [Double](repeating: 0, count: m * d)
                addGradient(&dy, ys, m, ys, m, slopes: yy.slopes, transposed: false, scale: 4 * wyy, skipDiagonal: true)
                addGradient(&dy, ys, m, xs, n, slopes: xy.slopes, transposed: true, scale: -2 * wxy, skipDiagonal: false)
                y.withGrad { p in for i in 0..<(m * d) { p[i] += Float(g * dy[i]) } }
            }
        }
    }
}
