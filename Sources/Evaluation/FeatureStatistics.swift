import LinearAlgebra

/// Numerical failures of the feature-space metrics (caller bugs are preconditions instead).
public enum FeatureMetricsError: Error, CustomStringConvertible, Equatable {
    /// A feature matrix holds NaN or Inf; `set` names it ("features", "real", "generated").
    case nonFiniteFeatures(set: String, row: Int, column: Int, value: Float)
    /// Feature statistics (mean or covariance) hold NaN or Inf.
    case nonFiniteStatistics(which: String)
    /// A covariance has a clearly negative eigenvalue (relative to the largest magnitude `largest`).
    case notPositiveSemidefinite(which: String, eigenvalue: Double, largest: Double)
    /// The Frechet distance came out negative beyond round-off: the covariances are not positive
    /// semi-definite (or are numerically meaningless).
    case negativeDistance(value: Double, tolerance: Double)
    /// LAPACK failed to decompose a matrix.
    case eigendecompositionFailed(what: String, reason: String)

    /// A one-line explanation naming the offending input.
    public var description: String {
        switch self {
        case let .nonFiniteFeatures(set, row, column, value):
            return "\(set) features contain a non-finite value (NaN or Inf): \(value) at row \(row), column \(column)"
        case let .nonFiniteStatistics(which):
            return "feature statistics \(which) contain NaN or Inf in the mean or covariance"
        case let .notPositiveSemidefinite(which, eigenvalue, largest):
            return "\(which) is not positive semi-definite: eigenvalue \(eigenvalue) (largest magnitude \(largest))"
        case let .negativeDistance(value, tolerance):
            return "Frechet distance is negative beyond round-off (\(value), tolerance \(tolerance)): a covariance is not positive semi-definite"
        case let .eigendecompositionFailed(what, reason):
            return "eigendecomposition of \(what) failed: \(reason)"
        }
    }
}

/// Throws `nonFiniteFeatures` naming the first NaN/Inf entry of the row-major [n, d] matrix `features`.
func checkFinite(_ features: [Float], dimension: Int, set: String) throws {
    try features.withUnsafeBufferPointer { f in
        for index in 0..<f.count where !f[index].isFinite {
            throw FeatureMetricsError.nonFiniteFeatures(set: set, row: index / dimension,
                                                        column: index % dimension, value: f[index])
        }
    }
}

/// Checks the shape of a row-major feature matrix and returns its row count.
func rowCount(_ features: [Float], dimension: Int, name: String, minimum: Int) -> Int {
    precondition(dimension >= 1, "\(name): feature dimension must be >= 1, got \(dimension)")
    precondition(features.count % dimension == 0,
                 "\(name): \(features.count) values is not a whole number of rows of dimension \(dimension)")
    let n = features.count / dimension
    precondition(n >= minimum, "\(name): needs at least \(minimum) feature rows, got \(n)")
    return n
}

/// The Gaussian summary of a set of feature vectors used by the Frechet distance: the mean
/// mu = (1/n) sum_i x_i [d] and the unbiased covariance S = (1/(n-1)) sum_i (x_i - mu)(x_i - mu)^T [d, d]
/// (row-major), both in Double.
///
/// The covariance divides by n - 1, exactly like `np.cov(features, rowvar=False)` as used by pytorch-fid's
/// `calculate_activation_statistics`. It is computed in two passes (mean, then the scatter of centered
/// rows), in Double, with a BLAS symmetric rank-k update (`dsyrk`) over chunks of rows, so
/// n = 10,000 x d = 128 takes milliseconds. Codable so that reference statistics can be cached as JSON.
///
/// Provenance: Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
/// Nash Equilibrium" (FID); reference implementation pytorch-fid (github.com/mseitzer/pytorch-fid).
public struct FeatureStatistics: Codable, Equatable, Sendable {
    /// The feature mean mu, [dimension].
    public let mean: [Double]
    /// The unbiased covariance S, row-major [dimension, dimension], symmetric.
    public let covariance: [Double]
    /// The feature dimension d.
    public let dimension: Int
    /// The number of feature vectors n the statistics were computed from.
    public let count: Int

    /// Wraps precomputed statistics (e.g. loaded from a cache). Preconditions: `mean` has `dimension`
    /// entries, `covariance` has dimension^2, `count >= 2`. Finiteness is checked where they are used.
    public init(mean: [Double], covariance: [Double], dimension: Int, count: Int) {
        precondition(dimension >= 1, "FeatureStatistics: dimension must be >= 1, got \(dimension)")
        precondition(mean.count == dimension,
                     "FeatureStatistics: mean has \(mean.count) entries for dimension \(dimension)")
        precondition(covariance.count == dimension * dimension,
                     "FeatureStatistics: covariance has \(covariance.count) entries for dimension \(dimension) (needs \(dimension * dimension))")
        precondition(count >= 2, "FeatureStatistics: needs at least 2 samples, got count \(count)")
        self.mean = mean
        self.covariance = covariance
        self.dimension = dimension
        self.count = count
    }

    /// Computes mu [d] and the unbiased covariance [d, d] of `features`, a row-major [n, d] Float
    /// matrix (n = features.count / dimension >= 2), accumulating in Double.
    ///
    /// Throws `FeatureMetricsError.nonFiniteFeatures` (naming the first offending entry) if any
    /// feature is NaN or Inf. `chunkRows` bounds the Double scratch buffer to chunkRows x d.
    public init(features: [Float], dimension d: Int, chunkRows: Int = 1024) throws {
        let n = rowCount(features, dimension: d, name: "FeatureStatistics", minimum: 2)
        precondition(chunkRows >= 1, "FeatureStatistics: chunkRows must be >= 1, got \(chunkRows)")
        var sum = [Double](repeating: 0, count: d)
        features.withUnsafeBufferPointer { f in
            sum.withUnsafeMutableBufferPointer { s in
                for i in 0..<n {
                    let row = f.baseAddress! + i * d
                    for j in 0..<d { s[j] += Double(row[j]) }
                }
            }
        }
        let mean = sum.map { $0 / Double(n) }
        // Finite Float features always give a finite Double mean and scatter, and a NaN/Inf feature
        // always makes its column's mean non-finite: one cheap check finds them all.
        if mean.contains(where: { !$0.isFinite }) {
            try checkFinite(features, dimension: d, set: "features")
        }
        var scatter = [Double](repeating: 0, count: d * d)
        let rows = min(chunkRows, n)
        var centered = [Double](repeating: 0, count: rows * d)
        features.withUnsafeBufferPointer { f in
            mean.withUnsafeBufferPointer { mu in
                centered.withUnsafeMutableBufferPointer { c in
                    scatter.withUnsafeMutableBufferPointer { s in
                        var start = 0
                        while start < n {
                            let count = min(rows, n - start)
                            for r in 0..<count {
                                let source = f.baseAddress! + (start + r) * d
                                let target = c.baseAddress! + r * d
                                for j in 0..<d { target[j] = Double(source[j]) - mu[j] }
                            }
                            // scatter += C^T C over this chunk (upper triangle).
                            BLAS.dsyrk(.upper, .transposed, n: d, k: count, a: c.baseAddress!, lda: d,
                                       beta: 1, c: s.baseAddress!, ldc: d)
                            start += count
                        }
                        BLAS.symmetrize(s.baseAddress!, n: d, from: .upper)
                        let scale = 1 / Double(n - 1)
                        for index in 0..<(d * d) { s[index] *= scale }
                    }
                }
            }
        }
        self.init(mean: mean, covariance: scatter, dimension: d, count: n)
    }

    /// Whether every entry of the mean and covariance is finite.
    public var isFinite: Bool {
        !mean.contains { !$0.isFinite } && !covariance.contains { !$0.isFinite }
    }

    /// Tr(S), the sum of the feature variances.
    public var trace: Double {
        (0..<dimension).reduce(0) { $0 + covariance[$1 * dimension + $1] }
    }
}
