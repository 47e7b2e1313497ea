import LinearAlgebra

/// The Frechet distance between two Gaussians fitted to feature sets (FID when the features come from
/// Inception-v3, "FID-like" for any other feature network).
///
///     d^2 = ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2))
///
/// The trace term is evaluated in Double through two symmetric eigendecompositions, using
/// Tr((S1 S2)^(1/2)) = Tr((S1^(1/2) S2 S1^(1/2))^(1/2)) (S1 S2 is similar to the symmetric PSD matrix
/// M = S1^(1/2) S2 S1^(1/2), so both have the same non-negative eigenvalues):
///  1. S1 = V diag(w) V^T, S1^(1/2) = V diag(sqrt(w')) V^T, where w' = w except that eigenvalues at the
///     round-off level, w <= d * eps * max|w| (including round-off negatives), are set to 0;
///  2. M = S1^(1/2) S2 S1^(1/2), symmetrised as (M + M^T) / 2;
///  3. Tr(M^(1/2)) = sum_i sqrt(lambda_i(M)) over the eigenvalues above d * eps * max|lambda|.
/// Zeroing round-off-level eigenvalues (not only negative ones) matters for singular covariances: an
/// exact zero eigenvalue computes as +-eps * ||S||, whose square root (~1.5e-8 sqrt(||S||)) would
/// otherwise add a spurious sqrt(eps)-sized amount to the trace per null direction. Eigenvalues more
/// negative than -1e-9 * max|w| mean a covariance is not positive semi-definite and throw.
///
/// This deliberately differs from pytorch-fid, which takes `scipy.linalg.sqrtm(S1 @ S2)` of the
/// non-symmetric product, discards an imaginary part, and retries with eps = 1e-6 added to both
/// diagonals when the result is not finite. Symmetric eigendecompositions are backward stable and need
/// no offset, so singular covariances (dead feature units give all-zero rows and columns) are handled
/// exactly rather than perturbed by ~eps per unit. On well-conditioned inputs both agree to round-off.
///
/// Provenance: Frechet (1957) / Dowson & Landau (1982) for the Gaussian 2-Wasserstein distance;
/// Heusel et al. 2017 (FID); reference implementation pytorch-fid `calculate_frechet_distance`.
public enum FrechetDistance {
    /// The squared Frechet distance d^2 >= 0 between the Gaussians N(a.mean, a.covariance) and
    /// N(b.mean, b.covariance), both of dimension d (a precondition). Cost: two d x d eigendecompositions
    /// and two d x d x d gemms.
    ///
    /// Throws (never returns NaN):
    /// - `FeatureMetricsError.nonFiniteStatistics` if either input holds NaN or Inf;
    /// - `.notPositiveSemidefinite` if S1, or S2 on the range of S1, has an eigenvalue below -1e-9 times
    ///   the largest eigenvalue magnitude;
    /// - `.negativeDistance` if d^2 < -max(1e-9 * scale, 4 d sqrt(d eps ||S1|| ||S2||)), with scale =
    ///   ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) (the second term bounds the sqrt(eps) error that eigenvalues
    ///   near the round-off cut can add); smaller negative round-off is clamped to 0;
    /// - `.eigendecompositionFailed` if LAPACK does not converge.
    public static func compute(_ a: FeatureStatistics, _ b: FeatureStatistics) throws -> Double {
        precondition(a.dimension == b.dimension,
                     "FrechetDistance: dimensions differ (\(a.dimension) vs \(b.dimension))")
        guard a.isFinite else { throw FeatureMetricsError.nonFiniteStatistics(which: "a (first argument)") }
        guard b.isFinite else { throw FeatureMetricsError.nonFiniteStatistics(which: "b (second argument)") }
        let d = a.dimension
        var meanTerm = 0.0
        for i in 0..<d {
            let diff = a.mean[i] - b.mean[i]
            meanTerm += diff * diff
        }
        let traceA = a.trace, traceB = b.trace
        let (traceSqrt, normA, normB) = try traceOfSqrtProduct(a.covariance, b.covariance, n: d)
        let distance = meanTerm + traceA + traceB - 2 * traceSqrt
        if distance >= 0 { return distance }
        let scale = meanTerm + abs(traceA) + abs(traceB)
        let roundOff = 4 * Double(d) * (Double(d) * Double.ulpOfOne * normA * normB).squareRoot()
        let tolerance = max(1e-9 * scale, roundOff)
        guard distance >= -tolerance else {
            throw FeatureMetricsError.negativeDistance(value: distance, tolerance: tolerance)
        }
        return 0
    }

    /// Relative size (to the largest eigenvalue magnitude) of a negative eigenvalue that still counts as
    /// round-off; anything more negative means the covariance is not positive semi-definite.
    static let psdTolerance = 1e-9

    /// Tr((S1^(1/2) S2 S1^(1/2))^(1/2)) for symmetric row-major [n, n] S1, S2, with the largest
    /// absolute eigenvalues of S1 and S2 (for the round-off bound).
    static func traceOfSqrtProduct(_ s1: [Double], _ s2: [Double], n: Int)
        throws -> (trace: Double, normS1: Double, normS2: Double) {
        let eigen1: SymmetricEigen
        do { eigen1 = try SymmetricEigen(symmetric: s1, n: n) } catch {
            throw FeatureMetricsError.eigendecompositionFailed(what: "the first covariance", reason: "\(error)")
        }
        let norm1 = eigen1.values.map(abs).max() ?? 0
        if let smallest = eigen1.values.first, smallest < -psdTolerance * norm1 {
            throw FeatureMetricsError.notPositiveSemidefinite(
                which: "the first covariance", eigenvalue: smallest, largest: norm1)
        }
        let cut1 = Double(n) * Double.ulpOfOne * norm1
        let root1 = eigen1.reconstructed { $0 > cut1 ? $0.squareRoot() : 0 }
        // M = root1 * S2 * root1, via two Double gemms.
        var temp = [Double](repeating: 0, count: n * n)
        var m = [Double](repeating: 0, count: n * n)
        root1.withUnsafeBufferPointer { r in
            s2.withUnsafeBufferPointer { s in
                temp.withUnsafeMutableBufferPointer { t in
                    BLAS.dgemm(.none, .none, m: n, n: n, k: n, a: r.baseAddress!, lda: n,
                               b: s.baseAddress!, ldb: n, c: t.baseAddress!, ldc: n)
                }
            }
        }
        temp.withUnsafeBufferPointer { t in
            root1.withUnsafeBufferPointer { r in
                m.withUnsafeMutableBufferPointer { out in
                    BLAS.dgemm(.none, .none, m: n, n: n, k: n, a: t.baseAddress!, lda: n,
                               b: r.baseAddress!, ldb: n, c: out.baseAddress!, ldc: n)
                }
            }
        }
        for i in 0..<n {
            for j in (i + 1)..<n {
                let average = 0.5 * (m[i * n + j] + m[j * n + i])
                m[i * n + j] = average
                m[j * n + i] = average
            }
        }
        guard !m.contains(where: { !$0.isFinite }) else {
            throw FeatureMetricsError.nonFiniteStatistics(which: "product S1^(1/2) S2 S1^(1/2) (overflow)")
        }
        let eigenM: SymmetricEigen
        do { eigenM = try SymmetricEigen(symmetric: m, n: n) } catch {
            throw FeatureMetricsError.eigendecompositionFailed(what: "S1^(1/2) S2 S1^(1/2)", reason: "\(error)")
        }
        let normM = eigenM.values.map(abs).max() ?? 0
        if let smallest = eigenM.values.first, smallest < -psdTolerance * normM {
            throw FeatureMetricsError.notPositiveSemidefinite(
                which: "the second covariance (on the range of the first)", eigenvalue: smallest, largest: normM)
        }
        let cutM = Double(n) * Double.ulpOfOne * normM
        var trace = 0.0
        for value in eigenM.values where value > cutM { trace += value.squareRoot() }
        return (trace, norm1, spectralNormBound(s2, n: n))
    }

    /// An upper bound on the spectral norm of a symmetric matrix: the maximum absolute row sum.
    static func spectralNormBound(_ s: [Double], n: Int) -> Double {
        var best = 0.0
        for i in 0..<n {
            var rowSum = 0.0
            for j in 0..<n { rowSum += abs(s[i * n + j]) }
            best = max(best, rowSum)
        }
        return best
    }
}
