import Autodiff
import Foundation
import LinearAlgebra

/// A mixture of `components` Gaussians with full covariances in `dimension` dimensions, fitted by EM in Double:
///
///     p(x) = sum_k pi_k N(x | mu_k, Sigma_k),
///     log N(x | mu, Sigma) = -1/2 (d log 2 pi + log det Sigma + (x - mu)^T Sigma^-1 (x - mu)),
///
/// evaluated through the Cholesky factor Sigma = L L^T (log det Sigma = 2 sum_i log L_ii, and the quadratic form is
/// |L^-1 (x - mu)|^2, for all points at once with BLAS), with the sum over components taken by log-sum-exp.
/// EM runs in BLAS (`dgemm`, `dtrsm`, `dsyrk`) on fixed blocks of rows: 100 iterations on 60,000 codes of dimension
/// 20 with 10 components took ~10 s wall in a release build on 2 cores under heavy load (load average ~8).
///
/// Used as an ex-post density over a trained autoencoder's codes, sampled and decoded instead of the prior.
///
/// Provenance: Ghosh et al. 2020, "From variational to deterministic autoencoders" (ex-post density estimation);
/// pythae's `GaussianMixtureSampler` (which fits sklearn's `GaussianMixture`, full covariances, on the encoder
/// means).
///
/// Layouts (row-major): `weights` [K], `means` [K, d], `covariances` [K, d, d]. Codable stores those three;
/// the Cholesky factors are recomputed (and positive definiteness re-checked) on decoding.
public struct GaussianMixture: Codable, Equatable, Sendable {
    /// d.
    public let dimension: Int
    /// pi_k, [K], positive, summing to 1.
    public let weights: [Double]
    /// mu_k, [K, d].
    public let means: [Double]
    /// Sigma_k, [K, d, d], symmetric positive definite.
    public let covariances: [Double]
    /// Lower-triangular L_k with Sigma_k = L_k L_k^T, [K, d, d] (upper triangles zero).
    public let choleskyFactors: [Double]

    /// K.
    public var components: Int { weights.count }

    private enum CodingKeys: String, CodingKey { case dimension, weights, means, covariances }

    /// A mixture from its parameters (layouts as the properties). Preconditions: consistent sizes, positive weights
    /// summing to 1 (within 1e-6), symmetric positive definite covariances.
    public init(dimension: Int, weights: [Double], means: [Double], covariances: [Double]) {
        let k = weights.count
        precondition(dimension >= 1, "GaussianMixture: dimension must be >= 1, got \(dimension)")
        precondition(k >= 1, "GaussianMixture: needs at least one component, got \(k)")
        precondition(means.count == k * dimension,
                     "GaussianMixture: \(means.count) mean values for \(k) components of dimension \(dimension)")
        precondition(covariances.count == k * dimension * dimension,
                     "GaussianMixture: \(covariances.count) covariance values for \(k) components of dimension \(dimension)")
        precondition(weights.allSatisfy { $0 > 0 && $0.isFinite }, "GaussianMixture: weights must be positive, got \(weights)")
        let total = weights.reduce(0, +)
        precondition(abs(total - 1) <= 1e-6, "GaussianMixture: weights sum to \(total), not 1")
        precondition(means.allSatisfy(\.isFinite), "GaussianMixture: non-finite mean")
        var factors = [Double](repeating: 0, count: covariances.count)
        let dd = dimension * dimension
        for c in 0..<k {
            let sigma = Array(covariances[(c * dd)..<((c + 1) * dd)])
            for i in 0..<dimension {
                for j in 0..<i {
                    let a = sigma[i * dimension + j], b = sigma[j * dimension + i]
                    precondition(abs(a - b) <= 1e-9 * max(1, abs(a), abs(b)),
                                 "GaussianMixture: covariance \(c) not symmetric at (\(i), \(j)): \(a) vs \(b)")
                }
            }
            guard let l = Self.cholesky(sigma, dimension) else {
                preconditionFailure("GaussianMixture: covariance \(c) is not positive definite: \(sigma)")
            }
            factors.replaceSubrange((c * dd)..<((c + 1) * dd), with: l)
        }
        self.dimension = dimension
        self.weights = weights
        self.means = means
        self.covariances = covariances
        self.choleskyFactors = factors
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let dimension = try c.decode(Int.self, forKey: .dimension)
        let weights = try c.decode([Double].self, forKey: .weights)
        let means = try c.decode([Double].self, forKey: .means)
        let covariances = try c.decode([Double].self, forKey: .covariances)
        let k = weights.count
        // A corrupt file is not a caller bug: check what the initializer would trap on.
        guard dimension >= 1, k >= 1, means.count == k * dimension, covariances.count == k * dimension * dimension,
              weights.allSatisfy({ $0 > 0 && $0.isFinite }), abs(weights.reduce(0, +) - 1) <= 1e-6,
              means.allSatisfy(\.isFinite), covariances.allSatisfy(\.isFinite),
              (0..<k).allSatisfy({ comp in
                  let dd = dimension * dimension
                  let s = Array(covariances[(comp * dd)..<((comp + 1) * dd)])
                  let symmetric = (0..<dimension).allSatisfy { i in
                      (0..<i).allSatisfy { j in
                          let a = s[i * dimension + j], b = s[j * dimension + i]
                          return abs(a - b) <= 1e-9 * max(1, abs(a), abs(b))
                      }
                  }
                  return symmetric && Self.cholesky(s, dimension) != nil
              })
        else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "GaussianMixture: inconsistent or non-positive-definite parameters"))
        }
        self.init(dimension: dimension, weights: weights, means: means, covariances: covariances)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(dimension, forKey: .dimension)
        try c.encode(weights, forKey: .weights)
        try c.encode(means, forKey: .means)
        try c.encode(covariances, forKey: .covariances)
    }

    // MARK: Density

    /// log p(x_i) for each row of `points` [n, d] (row-major), by log-sum-exp over components.
    public func logDensities(points: [Float]) -> [Double] {
        precondition(points.count % dimension == 0,
                     "GaussianMixture.logDensities: \(points.count) values are not rows of dimension \(dimension)")
        let x = points.map(Double.init)
        let n = x.count / dimension
        let table = componentLogDensities(x, n)
        return table.withUnsafeBufferPointer { t in (0..<n).map { Self.logSumExp(t.baseAddress! + $0 * components, count: components) } }
    }

    /// Mean over rows of log p(x_i), in nats per point.
    public func meanLogLikelihood(points: [Float]) -> Double {
        let l = logDensities(points: points)
        precondition(!l.isEmpty, "GaussianMixture.meanLogLikelihood: no points")
        return l.reduce(0, +) / Double(l.count)
    }

    /// Rows per block of the EM kernels: the blocks (not the thread count) fix how work and sums are split.
    static let blockRows = 2048

    /// log pi_k + log N(x_i | mu_k, Sigma_k) as [n, K] (row-major), x [n, d] in Double.
    ///
    /// With P_k = L_k^-T (upper triangular, from a triangular solve L_k P_k^T = I) and b_k = L_k^-1 mu_k, the
    /// whitened residual is L_k^-1 (x - mu_k) = P_k^T x - b_k, so one `dgemm` of a block of rows X_b [rows, d] with
    /// W = [P_1 | ... | P_K] [d, K d] gives every component's residuals at once; the quadratic form is the squared
    /// norm of each d-wide slice. Blocks of `blockRows` rows run on the worker threads with single-threaded BLAS
    /// calls (OpenBLAS always runs one thread per call, see `BLASRuntime`), so the values do not depend on the thread count.
    /// Provenance: sklearn's `_estimate_log_gaussian_prob` (X @ prec_chol - mu @ prec_chol, per component).
    /// The plain forward-substitution version is kept as the reference in the tests.
    func componentLogDensities(_ x: [Double], _ n: Int, blockRows: Int = GaussianMixture.blockRows) -> [Double] {
        precondition(x.count == n * dimension, "componentLogDensities: \(x.count) values for \(n) rows of \(dimension)")
        precondition(blockRows >= 1, "componentLogDensities: blockRows must be >= 1, got \(blockRows)")
        let d = dimension, k = components, dd = d * d, width = k * d
        var w = [Double](repeating: 0, count: d * width)
        var offsets = [Double](repeating: 0, count: width)
        var constants = [Double](repeating: 0, count: k)
        var inverse = [Double](repeating: 0, count: dd)
        for c in 0..<k {
            var logDet = 0.0
            for i in 0..<d { logDet += 2 * Foundation.log(choleskyFactors[c * dd + i * d + i]) }
            constants[c] = Foundation.log(weights[c]) - 0.5 * (Double(d) * Foundation.log(2 * Double.pi) + logDet)
            for i in 0..<dd { inverse[i] = 0 }
            for i in 0..<d { inverse[i * d + i] = 1 }
            choleskyFactors.withUnsafeBufferPointer { l in
                inverse.withUnsafeMutableBufferPointer { v in
                    BLAS.dtrsm(.left, .lower, .none, m: d, n: d, a: l.baseAddress! + c * dd, lda: d, b: v.baseAddress!, ldb: d)
                }
            }
            for j in 0..<d {
                var bj = 0.0
                for i in 0...j { bj += inverse[j * d + i] * means[c * d + i] }
                offsets[c * d + j] = bj
                for i in 0..<d { w[i * width + c * d + j] = inverse[j * d + i] }
            }
        }
        var out = [Double](repeating: 0, count: n * k)
        let block = max(1, min(blockRows, n))
        let threads = BLASRuntime.threadCount
        var scratch = [Double](repeating: 0, count: threads * block * width)
        x.withUnsafeBufferPointer { xs in
            w.withUnsafeBufferPointer { ws in
                scratch.withUnsafeMutableBufferPointer { sc in
                    out.withUnsafeMutableBufferPointer { o in
                        Parallel.forEachBlock(n, block: block, workers: threads) { range, worker in
                            let y = sc.baseAddress! + worker * block * width
                            BLAS.dgemm(.none, .none, m: range.count, n: width, k: d, a: xs.baseAddress! + range.lowerBound * d,
                                       lda: d, b: ws.baseAddress!, ldb: width, c: y, ldc: width, parallel: false)
                            for (row, p) in range.enumerated() {
                                for c in 0..<k {
                                    var quadratic = 0.0
                                    let residual = y + row * width + c * d
                                    for j in 0..<d { let t = residual[j] - offsets[c * d + j]; quadratic += t * t }
                                    o[p * k + c] = constants[c] - 0.5 * quadratic
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// log sum_j exp(row[j]) over `count` entries, shifted by the maximum.
    static func logSumExp(_ row: UnsafePointer<Double>, count: Int) -> Double {
        var m = -Double.infinity
        for j in 0..<count { m = max(m, row[j]) }
        if !m.isFinite { return m }
        var s = 0.0
        for j in 0..<count { s += Foundation.exp(row[j] - m) }
        return m + Foundation.log(s)
    }

    /// The lower Cholesky factor of the symmetric [d, d] matrix `a`, or nil if it is not (numerically) positive definite.
    static func cholesky(_ a: [Double], _ d: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: d * d)
        for j in 0..<d {
            var diagonal = a[j * d + j]
            for p in 0..<j { diagonal -= l[j * d + p] * l[j * d + p] }
            guard diagonal > 0, diagonal.isFinite else { return nil }
            let ljj = diagonal.squareRoot()
            l[j * d + j] = ljj
            for i in (j + 1)..<max(j + 1, d) {
                var v = a[i * d + j]
                for p in 0..<j { v -= l[i * d + p] * l[j * d + p] }
                l[i * d + j] = v / ljj
            }
        }
        return l
    }

    // MARK: Sampling

    /// `count` draws [count, d] (row-major): component k with probability pi_k (one uniform draw per sample),
    /// then x = mu_k + L_k z with z ~ N(0, I_d) from `generator.normals`.
    public func sample(count: Int, generator: inout SeededGenerator) -> [Float] {
        precondition(count >= 0, "GaussianMixture.sample: count must be >= 0, got \(count)")
        let d = dimension, dd = d * d
        var cumulative = [Double](repeating: 0, count: components)
        var running = 0.0
        for c in 0..<components { running += weights[c]; cumulative[c] = running }
        var out = [Float](repeating: 0, count: count * d)
        for s in 0..<count {
            let u = Self.uniformDouble(&generator) * running
            let c = cumulative.firstIndex { $0 > u } ?? (components - 1)
            let z = generator.normals(d)
            for i in 0..<d {
                var v = means[c * d + i]
                for j in 0...i { v += choleskyFactors[c * dd + i * d + j] * Double(z[j]) }
                out[s * d + i] = Float(v)
            }
        }
        return out
    }

    /// Uniform in [0, 1) with 53 random bits.
    static func uniformDouble(_ generator: inout SeededGenerator) -> Double { Double(generator.next() >> 11) * 0x1p-53 }

    // MARK: Fitting

    /// k-means++ seeding (Arthur & Vassilvitskii 2007): the first centre uniformly among the rows of `points`
    /// [n, d], each next one with probability proportional to D(x)^2, the squared distance to the nearest centre
    /// chosen so far. Returns `count` distinct row indices; if every remaining row coincides with a centre
    /// (total D^2 = 0, e.g. all points equal), the next index is drawn uniformly among the rows not yet chosen.
    public static func kMeansPlusPlus(points: [Float], dimension: Int, count: Int,
                                      generator: inout SeededGenerator) -> [Int] {
        precondition(dimension >= 1, "kMeansPlusPlus: dimension must be >= 1, got \(dimension)")
        precondition(points.count % dimension == 0,
                     "kMeansPlusPlus: \(points.count) values are not rows of dimension \(dimension)")
        let n = points.count / dimension
        precondition(count >= 1 && count <= n, "kMeansPlusPlus: cannot choose \(count) centres among \(n) points")
        let x = points.map(Double.init)
        return kMeansPlusPlus(x, n: n, d: dimension, count: count, generator: &generator)
    }

    static func kMeansPlusPlus(_ x: [Double], n: Int, d: Int, count: Int, generator: inout SeededGenerator) -> [Int] {
        var chosen = [Int(generator.boundedDraw(UInt64(n)))]
        var isChosen = [Bool](repeating: false, count: n)
        isChosen[chosen[0]] = true
        var distance = [Double](repeating: .infinity, count: n)
        while chosen.count < count {
            let last = chosen[chosen.count - 1]
            var total = 0.0
            for p in 0..<n {
                var s = 0.0
                for i in 0..<d { let t = x[p * d + i] - x[last * d + i]; s += t * t }
                distance[p] = isChosen[p] ? 0 : min(distance[p], s)
                total += distance[p]
            }
            var next: Int
            if total > 0 {
                let u = uniformDouble(&generator) * total
                var running = 0.0
                next = -1
                for p in 0..<n where distance[p] > 0 {
                    running += distance[p]
                    next = p
                    if running > u { break }
                }
            } else {
                let remaining = (0..<n).filter { !isChosen[$0] }
                next = remaining[Int(generator.boundedDraw(UInt64(remaining.count)))]
            }
            chosen.append(next)
            isChosen[next] = true
        }
        return chosen
    }

    /// Fits a K-component mixture to the rows of `points` [n, d] by EM.
    ///
    /// Initialisation: k-means++ centres (seeded from `generator`), each point assigned to its nearest centre, then
    /// one M-step on those hard responsibilities. Iteration t: E-step r_ik = pi_k N(x_i|mu_k,Sigma_k) / p(x_i)
    /// (in log space, log-sum-exp), recording the mean log-likelihood (1/n) sum_i log p(x_i); stop when it changed
    /// by less than `tolerance` (absolute, nats per point) or after `iterations` M-steps:
    ///
    ///     N_k = sum_i r_ik,  pi_k = N_k / n,  mu_k = sum_i r_ik x_i / N_k,
    ///     Sigma_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T / N_k + eps_k I.
    ///
    /// Regularisation: eps_k = 1e-6 * tr(Sigma_k) / d keeps every covariance positive definite at a scale relative
    /// to the component; a collapsed component (tr = 0, e.g. all its points equal) uses 1e-6 * tr(S) / d of the data
    /// covariance S instead, or 1e-6 if the data are constant. N_k gets 10 * ulp(1) added so an empty component does
    /// not divide by zero. The added eps_k makes each M-step a slight perturbation of the exact maximiser, so the
    /// log-likelihood is non-decreasing only up to O(eps^2).
    ///
    /// Returns the mixture of the last M-step and `logLikelihoods`, the mean log-likelihood of the initial mixture
    /// and after each M-step (the last entry belongs to the returned mixture).
    public static func fit(points: [Float], dimension: Int, components: Int = 10, iterations: Int = 100,
                           tolerance: Double = 1e-6,
                           generator: inout SeededGenerator) -> (GaussianMixture, logLikelihoods: [Double]) {
        fit(points: points, dimension: dimension, components: components, iterations: iterations, tolerance: tolerance,
            generator: &generator, kernels: .blas)
    }

    /// The two kernels of an EM iteration; the tests swap in plain-loop references.
    struct Kernels {
        /// `componentLogDensities` of a mixture for x [n, d]: [n, K].
        var logDensities: (GaussianMixture, _ x: [Double], _ n: Int) -> [Double]
        /// `mStep(x, n, d, k, responsibilities, fallbackEpsilon)`.
        var mStep: (_ x: [Double], _ n: Int, _ d: Int, _ k: Int, _ r: [Double], _ fallbackEpsilon: Double) -> GaussianMixture

        static var blas: Kernels {
            Kernels(logDensities: { $0.componentLogDensities($1, $2) },
                    mStep: { GaussianMixture.mStep($0, n: $1, d: $2, k: $3, responsibilities: $4, fallbackEpsilon: $5) })
        }
    }

    /// `fit` with the given E- and M-step kernels.
    static func fit(points: [Float], dimension: Int, components: Int, iterations: Int, tolerance: Double,
                    generator: inout SeededGenerator, kernels: Kernels) -> (GaussianMixture, logLikelihoods: [Double]) {
        precondition(dimension >= 1, "GaussianMixture.fit: dimension must be >= 1, got \(dimension)")
        precondition(points.count % dimension == 0,
                     "GaussianMixture.fit: \(points.count) values are not rows of dimension \(dimension)")
        let n = points.count / dimension
        precondition(components >= 1, "GaussianMixture.fit: components must be >= 1, got \(components)")
        precondition(n >= components, "GaussianMixture.fit: \(n) points cannot fit \(components) components")
        precondition(iterations >= 0, "GaussianMixture.fit: iterations must be >= 0, got \(iterations)")
        precondition(tolerance >= 0, "GaussianMixture.fit: tolerance must be >= 0, got \(tolerance)")
        precondition(points.allSatisfy(\.isFinite), "GaussianMixture.fit: non-finite input value")
        return em(points: points, n: n, d: dimension, k: components, iterations: iterations, tolerance: tolerance,
                  threads: BLASRuntime.threadCount, generator: &generator, kernels: kernels)
    }

    /// The body of `fit`, with `threads` workers for the E-step's log-sum-exp over fixed blocks of rows.
    private static func em(points: [Float], n: Int, d: Int, k: Int, iterations: Int, tolerance: Double, threads: Int,
                           generator: inout SeededGenerator, kernels: Kernels) -> (GaussianMixture, logLikelihoods: [Double]) {
        let x = points.map(Double.init)

        // Fallback regulariser for collapsed components, from the data's average variance.
        var globalMean = [Double](repeating: 0, count: d)
        for p in 0..<n { for i in 0..<d { globalMean[i] += x[p * d + i] } }
        for i in 0..<d { globalMean[i] /= Double(n) }
        var globalTrace = 0.0
        for p in 0..<n { for i in 0..<d { let t = x[p * d + i] - globalMean[i]; globalTrace += t * t } }
        globalTrace /= Double(n)
        let fallbackEpsilon = 1e-6 * (globalTrace > 0 ? globalTrace / Double(d) : 1)

        // Hard responsibilities from the nearest k-means++ centre.
        let centres = kMeansPlusPlus(x, n: n, d: d, count: k, generator: &generator)
        var responsibilities = [Double](repeating: 0, count: n * k)
        for p in 0..<n {
            var best = 0, bestDistance = Double.infinity
            for (c, centre) in centres.enumerated() {
                var s = 0.0
                for i in 0..<d { let t = x[p * d + i] - x[centre * d + i]; s += t * t }
                if s < bestDistance { best = c; bestDistance = s }
            }
            responsibilities[p * k + best] = 1
        }
        var mixture = kernels.mStep(x, n, d, k, responsibilities, fallbackEpsilon)
        var logLikelihoods: [Double] = []
        var step = 0
        while true {
            // E-step.
            let table = kernels.logDensities(mixture, x, n)
            var blockTotals = [Double](repeating: 0, count: (n + blockRows - 1) / blockRows)
            table.withUnsafeBufferPointer { t in
                responsibilities.withUnsafeMutableBufferPointer { r in
                    blockTotals.withUnsafeMutableBufferPointer { totals in
                        Parallel.forEachBlock(n, block: blockRows, workers: threads) { range, _ in
                            var total = 0.0
                            for p in range {
                                let row = t.baseAddress! + p * k
                                let lse = logSumExp(row, count: k)
                                total += lse
                                for c in 0..<k { r[p * k + c] = Foundation.exp(row[c] - lse) }
                            }
                            totals[range.lowerBound / blockRows] = total
                        }
                    }
                }
            }
            let mean = blockTotals.reduce(0, +) / Double(n)
            precondition(mean.isFinite, "GaussianMixture.fit: log-likelihood became \(mean) at iteration \(step)")
            if let previous = logLikelihoods.last, abs(mean - previous) < tolerance {
                logLikelihoods.append(mean)
                break
            }
            logLikelihoods.append(mean)
            if step == iterations { break }
            mixture = kernels.mStep(x, n, d, k, responsibilities, fallbackEpsilon)
            step += 1
        }
        return (mixture, logLikelihoods)
    }

    /// The M-step for responsibilities [n, K], with the regularisation documented on `fit`.
    ///
    /// Per block of `blockRows` rows (on the worker threads, single-threaded BLAS): the counts, R_b^T X_b [K, d] by
    /// `dgemm`, and then, with the means, each component's scatter A^T A by `dsyrk` over the weighted centred rows
    /// a_i = sqrt(r_ik) (x_i - mu_k). The per-block sums are added in block order, so the result does not depend on
    /// the thread count. The plain-loop version is kept as the reference in the tests.
    static func mStep(_ x: [Double], n: Int, d: Int, k: Int, responsibilities r: [Double],
                      fallbackEpsilon: Double, blockRows: Int = GaussianMixture.blockRows) -> GaussianMixture {
        precondition(blockRows >= 1, "mStep: blockRows must be >= 1, got \(blockRows)")
        let dd = d * d, block = max(1, min(blockRows, n)), blocks = (n + block - 1) / block
        // Per block: K counts then K * d weighted sums; then K * dd scatter (lower triangles).
        let firstWidth = k + k * d
        var first = [Double](repeating: 0, count: blocks * firstWidth)
        var scatter = [Double](repeating: 0, count: blocks * k * dd)
        var counts = [Double](repeating: 10 * Double.ulpOfOne, count: k)
        var means = [Double](repeating: 0, count: k * d)
        let threads = BLASRuntime.threadCount
        var weighted = [Double](repeating: 0, count: threads * block * d)
        r.withUnsafeBufferPointer { rs in
            x.withUnsafeBufferPointer { xs in
                first.withUnsafeMutableBufferPointer { f in
                    Parallel.forEachBlock(n, block: block, workers: threads) { range, _ in
                        let partial = f.baseAddress! + (range.lowerBound / block) * firstWidth
                        for p in range { for c in 0..<k { partial[c] += rs[p * k + c] } }
                        BLAS.dgemm(.transposed, .none, m: k, n: d, k: range.count, a: rs.baseAddress! + range.lowerBound * k,
                                   lda: k, b: xs.baseAddress! + range.lowerBound * d, ldb: d, c: partial + k, ldc: d,
                                   parallel: false)
                    }
                }
                for b in 0..<blocks {
                    for c in 0..<k { counts[c] += first[b * firstWidth + c] }
                    for i in 0..<(k * d) { means[i] += first[b * firstWidth + k + i] }
                }
                for c in 0..<k { for i in 0..<d { means[c * d + i] /= counts[c] } }
                weighted.withUnsafeMutableBufferPointer { a in
                    scatter.withUnsafeMutableBufferPointer { s in
                        means.withUnsafeBufferPointer { mu in
                            Parallel.forEachBlock(n, block: block, workers: threads) { range, worker in
                                let rows = a.baseAddress! + worker * block * d
                                for c in 0..<k {
                                    for (row, p) in range.enumerated() {
                                        let scale = rs[p * k + c].squareRoot()
                                        for i in 0..<d { rows[row * d + i] = scale * (xs[p * d + i] - mu[c * d + i]) }
                                    }
                                    let target = s.baseAddress! + ((range.lowerBound / block) * k + c) * dd
                                    BLAS.dsyrk(.lower, .transposed, n: d, k: range.count, a: rows, lda: d, c: target, ldc: d)
                                }
                            }
                        }
                    }
                }
            }
        }
        let totalCount = counts.reduce(0, +)
        let weights = counts.map { $0 / totalCount }
        var covariances = [Double](repeating: 0, count: k * dd)
        for c in 0..<k {
            for b in 0..<blocks {
                let partial = (b * k + c) * dd
                for i in 0..<d { for j in 0...i { covariances[c * dd + i * d + j] += scatter[partial + i * d + j] } }
            }
            var trace = 0.0
            for i in 0..<d {
                for j in 0...i { covariances[c * dd + i * d + j] /= counts[c] }
                trace += covariances[c * dd + i * d + i]
            }
            let epsilon = trace > 0 ? 1e-6 * trace / Double(d) : fallbackEpsilon
            covariances.withUnsafeMutableBufferPointer { sigma in
                let base = sigma.baseAddress! + c * dd
                for i in 0..<d { base[i * d + i] += epsilon }
                BLAS.symmetrize(base, n: d, from: .lower)
            }
        }
        return GaussianMixture(dimension: d, weights: weights, means: means, covariances: covariances)
    }
}
