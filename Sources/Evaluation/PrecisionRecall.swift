import LinearAlgebra

/// Improved precision and recall for generative models: the fraction of generated samples that fall in
/// the estimated real manifold (precision) and of real samples that fall in the estimated generated
/// manifold (recall).
///
/// A manifold is the union of k-NN balls around each sample of a set: sample x_i gets the radius r_i =
/// distance to its k-th nearest neighbour within its own set, excluding itself. Then
///
///     precision = (1/ng) #{ generated g : exists real x_i with ||g - x_i|| <= r_i },
///     recall    = (1/nr) #{ real x     : exists generated g_j with ||x - g_j|| <= s_j }.
///
/// Balls are closed (<=), as in the reference implementation, which compares squared distances. Squared
/// distances are ||a||^2 + ||b||^2 - 2 a.b (clamped at 0) with the dot products from Double BLAS over
/// chunks of rows (`chunkElements` bounds each chunk's [rows, n] distance block), so n = 10,000 per set
/// takes seconds. One real-vs-generated pass serves both precision and recall.
///
/// Provenance: Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
/// Models" (k = 3); reference implementation github.com/kynkaat/improved-precision-and-recall-metric
/// (`ManifoldEstimator`, `knn_precision_recall_features`).
public struct PrecisionRecall: Codable, Equatable, Sendable {
    /// Fraction of generated samples inside the real manifold, in [0, 1].
    public let precision: Double
    /// Fraction of real samples inside the generated manifold, in [0, 1].
    public let recall: Double
    /// The neighbourhood size k used for the radii.
    public let k: Int

    /// Creates a result from its parts.
    public init(precision: Double, recall: Double, k: Int) {
        self.precision = precision
        self.recall = recall
        self.k = k
    }

    /// Precision and recall of `generated` [ng, d] against `real` [nr, d] (row-major Float, d = `dimension`).
    ///
    /// Preconditions: k >= 1 and both sets have more than k rows (each sample needs k other neighbours).
    /// Throws `FeatureMetricsError.nonFiniteFeatures` if either set holds NaN or Inf.
    /// `realSquaredRadii`: the real set's radii from `squaredRadii(of: real, ...)` with the same k, when they are
    /// at hand (the reference set's serve every sampler and run); nil computes them.
    public static func compute(real: [Float], generated: [Float], dimension d: Int, k: Int = 3,
                               chunkElements: Int = 4_000_000, realSquaredRadii: [Double]? = nil) throws -> PrecisionRecall {
        precondition(k >= 1, "PrecisionRecall: k must be >= 1, got \(k)")
        let nr = rowCount(real, dimension: d, name: "PrecisionRecall (real)", minimum: k + 1)
        let ng = rowCount(generated, dimension: d, name: "PrecisionRecall (generated)", minimum: k + 1)
        precondition(chunkElements >= 1, "PrecisionRecall: chunkElements must be >= 1, got \(chunkElements)")
        try checkFinite(real, dimension: d, set: "real")
        try checkFinite(generated, dimension: d, set: "generated")
        let x = real.map(Double.init), g = generated.map(Double.init)
        let realNorms = squaredNorms(x, dimension: d), generatedNorms = squaredNorms(g, dimension: d)
        precondition(realSquaredRadii == nil || realSquaredRadii!.count == nr,
                     "PrecisionRecall: \(realSquaredRadii?.count ?? 0) real radii for \(nr) real rows")
        let realRadii = realSquaredRadii
            ?? kthNeighbourSquaredRadii(x, norms: realNorms, dimension: d, k: k, chunkElements: chunkElements)
        let generatedRadii = kthNeighbourSquaredRadii(g, norms: generatedNorms, dimension: d, k: k,
                                                      chunkElements: chunkElements)
        var generatedCovered = [Bool](repeating: false, count: ng)
        var realCovered = [Bool](repeating: false, count: nr)
        generatedCovered.withUnsafeMutableBufferPointer { gc in
            realCovered.withUnsafeMutableBufferPointer { rc in
                realRadii.withUnsafeBufferPointer { rr in
                    generatedRadii.withUnsafeBufferPointer { gr in
                        forEachDistanceBlock(x, realNorms, g, generatedNorms, dimension: d,
                                             chunkElements: chunkElements) { start, rows, block in
                            for r in 0..<rows {
                                let i = start + r
                                let row = block + r * ng
                                let radius = rr[i]
                                var covered = false
                                for j in 0..<ng {
                                    let distance = row[j]
                                    if distance <= radius { gc[j] = true }
                                    if distance <= gr[j] { covered = true }
                                }
                                if covered { rc[i] = true }
                            }
                        }
                    }
                }
            }
        }
        let precision = Double(generatedCovered.reduce(0) { $0 + ($1 ? 1 : 0) }) / Double(ng)
        let recall = Double(realCovered.reduce(0) { $0 + ($1 ? 1 : 0) }) / Double(nr)
        return PrecisionRecall(precision: precision, recall: recall, k: k)
    }

    /// Squared radius of each row's k-NN ball within its own set `features` [n, d] (row-major Float): the manifold
    /// estimate of one set, reusable for every comparison against that set.
    public static func squaredRadii(of features: [Float], dimension d: Int, k: Int = 3,
                                    chunkElements: Int = 4_000_000) -> [Double] {
        precondition(k >= 1 && chunkElements >= 1, "PrecisionRecall.squaredRadii: k \(k), chunk elements \(chunkElements)")
        _ = rowCount(features, dimension: d, name: "PrecisionRecall.squaredRadii", minimum: k + 1)
        let x = features.map(Double.init)
        return kthNeighbourSquaredRadii(x, norms: squaredNorms(x, dimension: d), dimension: d, k: k, chunkElements: chunkElements)
    }

    /// ||x_i||^2 for each row of the row-major Double matrix `x` [n, d].
    static func squaredNorms(_ x: [Double], dimension d: Int) -> [Double] {
        let n = x.count / d
        return x.withUnsafeBufferPointer { p in
            (0..<n).map { i in
                var total = 0.0
                let row = p.baseAddress! + i * d
                for j in 0..<d { total += row[j] * row[j] }
                return total
            }
        }
    }

    /// Calls `body(start, rows, block)` for consecutive chunks of rows of `a` [na, d], where `block`
    /// [rows, nb] holds the squared distances max(0, ||a_i||^2 + ||b_j||^2 - 2 a_i . b_j) to every row of `b`.
    static func forEachDistanceBlock(
        _ a: [Double], _ aNorms: [Double], _ b: [Double], _ bNorms: [Double], dimension d: Int,
        chunkElements: Int, _ body: (Int, Int, UnsafePointer<Double>) -> Void
    ) {
        let na = aNorms.count, nb = bNorms.count
        let chunk = max(1, min(na, chunkElements / nb))
        var block = [Double](repeating: 0, count: chunk * nb)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                aNorms.withUnsafeBufferPointer { an in
                    bNorms.withUnsafeBufferPointer { bn in
                        block.withUnsafeMutableBufferPointer { c in
                            var start = 0
                            while start < na {
                                let rows = min(chunk, na - start)
                                BLAS.dgemm(.none, .transposed, m: rows, n: nb, k: d, alpha: -2,
                                           a: ap.baseAddress! + start * d, lda: d, b: bp.baseAddress!, ldb: d,
                                           c: c.baseAddress!, ldc: nb)
                                for r in 0..<rows {
                                    let row = c.baseAddress! + r * nb
                                    let rowNorm = an[start + r]
                                    for j in 0..<nb { row[j] = max(0, row[j] + rowNorm + bn[j]) }
                                }
                                body(start, rows, UnsafePointer(c.baseAddress!))
                                start += rows
                            }
                        }
                    }
                }
            }
        }
    }

    /// For each row of `x` [n, d], the squared distance to its k-th nearest other row (self excluded
    /// by index, so duplicates of a point count as neighbours at distance 0).
    static func kthNeighbourSquaredRadii(_ x: [Double], norms: [Double], dimension d: Int, k: Int,
                                         chunkElements: Int) -> [Double] {
        let n = norms.count
        var radii = [Double](repeating: 0, count: n)
        var smallest = [Double](repeating: .infinity, count: k)
        radii.withUnsafeMutableBufferPointer { out in
            smallest.withUnsafeMutableBufferPointer { best in
                forEachDistanceBlock(x, norms, x, norms, dimension: d, chunkElements: chunkElements) { start, rows, block in
                    for r in 0..<rows {
                        let i = start + r
                        let row = block + r * n
                        for t in 0..<k { best[t] = .infinity }
                        // best[0...k-1] ascending; best[k-1] is the current k-th smallest.
                        for j in 0..<n where j != i {
                            let distance = row[j]
                            if distance < best[k - 1] {
                                var t = k - 1
                                while t > 0 && best[t - 1] > distance {
                                    best[t] = best[t - 1]
                                    t -= 1
                                }
                                best[t] = distance
                            }
                        }
                        out[i] = best[k - 1]
                    }
                }
            }
        }
        return radii
    }
}
