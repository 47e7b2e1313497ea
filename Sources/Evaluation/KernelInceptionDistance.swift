import Autodiff
import LinearAlgebra

/// The Kernel Inception Distance: the squared maximum mean discrepancy (MMD^2) between real and
/// generated features under the cubic polynomial kernel
///
///     k(x, y) = (x . y / d + 1)^3,
///
/// estimated without bias on `subsets` random subsets of `subsetSize` rows from each set (drawn without
/// replacement, independently per subset), reported as the mean and standard deviation over subsets.
/// For subsets X, Y of m rows each the unbiased estimator is
///
///     MMD^2 = (sum_{i != j} k(x_i, x_j) + sum_{i != j} k(y_i, y_j)) / (m (m - 1)) - 2 sum_{i, j} k(x_i, y_j) / m^2.
///
/// Unlike FID it has an unbiased estimator, so it can be slightly negative for similar sets.
///
/// Provenance: Binkowski et al. 2018, "Demystifying MMD GANs" (defaults 100 subsets of 1000);
/// reference implementation torch-fidelity `kid_features_to_metric` / `mmd2` (mmd_est='unbiased',
/// degree 3, gamma 1/d, coef0 1; std is the population std, `np.std` with ddof 0).
public struct KernelInceptionDistance: Codable, Equatable, Sendable {
    /// Mean of the per-subset MMD^2 estimates.
    public let mean: Double
    /// Standard deviation (population, ddof 0) of the per-subset estimates; 0 for one subset.
    public let standardDeviation: Double
    /// Number of subsets averaged.
    public let subsets: Int
    /// Rows drawn from each set per subset.
    public let subsetSize: Int

    /// Creates a result from its parts.
    public init(mean: Double, standardDeviation: Double, subsets: Int, subsetSize: Int) {
        self.mean = mean
        self.standardDeviation = standardDeviation
        self.subsets = subsets
        self.subsetSize = subsetSize
    }

    /// KID between `real` [nr, d] and `generated` [ng, d] (row-major Float, d = `dimension`).
    ///
    /// Preconditions: 2 <= subsetSize <= min(nr, ng) (torch-fidelity raises the same error), subsets >= 1.
    /// Each subset draws `subsetSize` distinct real rows, then `subsetSize` distinct generated rows, from
    /// `generator` (partial Fisher-Yates with `boundedDraw`), so results are reproducible per seed.
    /// Kernel matrices are formed with Double BLAS (`dsyrk` for XX^T and YY^T, `dgemm` for XY^T).
    /// Throws `FeatureMetricsError.nonFiniteFeatures` if either set holds NaN or Inf.
    public static func compute(
        real: [Float], generated: [Float], dimension d: Int,
        subsets: Int = 100, subsetSize: Int = 1000, generator: inout SeededGenerator
    ) throws -> KernelInceptionDistance {
        let nr = rowCount(real, dimension: d, name: "KernelInceptionDistance (real)", minimum: 2)
        let ng = rowCount(generated, dimension: d, name: "KernelInceptionDistance (generated)", minimum: 2)
        precondition(subsets >= 1, "KernelInceptionDistance: subsets must be >= 1, got \(subsets)")
        precondition(subsetSize >= 2 && subsetSize <= min(nr, ng),
                     "KernelInceptionDistance: subsetSize \(subsetSize) must be in 2...min(real \(nr), generated \(ng))")
        try checkFinite(real, dimension: d, set: "real")
        try checkFinite(generated, dimension: d, set: "generated")
        let m = subsetSize
        // The index sets first, in the generator's order (real, then generated, subset by subset); then the subsets
        // are scored on the workers, each worker a contiguous range with its own buffers. Every estimate is computed
        // alone, so the result does not depend on the thread count.
        var draws: [(real: [Int], generated: [Int])] = []
        for _ in 0..<subsets {
            let realRows = sampleWithoutReplacement(m, from: nr, generator: &generator)
            draws.append((realRows, sampleWithoutReplacement(m, from: ng, generator: &generator)))
        }
        var estimates = [Double](repeating: 0, count: subsets)
        let workers = min(BLASRuntime.threadCount, subsets)
        estimates.withUnsafeMutableBufferPointer { out in
            Parallel.forEachBlock(subsets, block: (subsets + workers - 1) / workers, workers: workers) { range, _ in
                var x = [Double](repeating: 0, count: m * d)
                var y = [Double](repeating: 0, count: m * d)
                var kxx = [Double](repeating: 0, count: m * m)
                var kyy = [Double](repeating: 0, count: m * m)
                var kxy = [Double](repeating: 0, count: m * m)
                for subset in range {
                    gather(real, rows: draws[subset].real, dimension: d, into: &x)
                    gather(generated, rows: draws[subset].generated, dimension: d, into: &y)
                    out[subset] = unbiasedMMD2(x, y, m: m, d: d, kxx: &kxx, kyy: &kyy, kxy: &kxy)
                }
            }
        }
        let mean = estimates.reduce(0, +) / Double(subsets)
        let variance = estimates.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(subsets)
        return KernelInceptionDistance(mean: mean, standardDeviation: variance.squareRoot(),
                                       subsets: subsets, subsetSize: subsetSize)
    }

    /// `count` distinct indices of 0..<n in random order (partial Fisher-Yates).
    static func sampleWithoutReplacement(_ count: Int, from n: Int, generator: inout SeededGenerator) -> [Int] {
        var pool = Array(0..<n)
        for i in 0..<count {
            let j = i + Int(generator.boundedDraw(UInt64(n - i)))
            pool.swapAt(i, j)
        }
        return Array(pool.prefix(count))
    }

    /// Copies `rows` of the row-major Float matrix into the Double buffer `out` [rows.count, d].
    static func gather(_ features: [Float], rows: [Int], dimension d: Int, into out: inout [Double]) {
        features.withUnsafeBufferPointer { f in
            out.withUnsafeMutableBufferPointer { o in
                for (r, row) in rows.enumerated() {
                    let source = f.baseAddress! + row * d
                    let target = o.baseAddress! + r * d
                    for j in 0..<d { target[j] = Double(source[j]) }
                }
            }
        }
    }

    /// The unbiased MMD^2 of Double subsets x, y [m, d] under the cubic kernel (scratch buffers [m, m]), on the
    /// calling thread (callers run it on the workers, one subset each).
    static func unbiasedMMD2(_ x: [Double], _ y: [Double], m: Int, d: Int,
                             kxx: inout [Double], kyy: inout [Double], kxy: inout [Double]) -> Double {
        let gamma = 1 / Double(d)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                kxx.withUnsafeMutableBufferPointer { c in
                    BLAS.dsyrk(.upper, .none, n: m, k: d, a: xp.baseAddress!, lda: d, c: c.baseAddress!, ldc: m)
                }
                kyy.withUnsafeMutableBufferPointer { c in
                    BLAS.dsyrk(.upper, .none, n: m, k: d, a: yp.baseAddress!, lda: d, c: c.baseAddress!, ldc: m)
                }
                kxy.withUnsafeMutableBufferPointer { c in
                    BLAS.dgemm(.none, .transposed, m: m, n: m, k: d, a: xp.baseAddress!, lda: d,
                               b: yp.baseAddress!, ldb: d, c: c.baseAddress!, ldc: m, parallel: false)
                }
            }
        }
        /// Sum of k over the strict upper triangle of a Gram matrix, doubled (= sum over i != j).
        func offDiagonalKernelSum(_ gram: [Double]) -> Double {
            gram.withUnsafeBufferPointer { g in
                var total = 0.0
                for i in 0..<m {
                    let row = g.baseAddress! + i * m
                    var rowTotal = 0.0
                    for j in (i + 1)..<m {
                        let t = row[j] * gamma + 1
                        rowTotal += t * t * t
                    }
                    total += rowTotal
                }
                return 2 * total
            }
        }
        let sumXY: Double = kxy.withUnsafeBufferPointer { g in
            var total = 0.0
            for i in 0..<m {
                let row = g.baseAddress! + i * m
                var rowTotal = 0.0
                for j in 0..<m {
                    let t = row[j] * gamma + 1
                    rowTotal += t * t * t
                }
                total += rowTotal
            }
            return total
        }
        let mm = Double(m)
        return (offDiagonalKernelSum(kxx) + offDiagonalKernelSum(kyy)) / (mm * (mm - 1)) - 2 * sumXY / (mm * mm)
    }
}
