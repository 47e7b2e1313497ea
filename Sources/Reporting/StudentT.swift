import Foundation

/// Student's t distribution with ν > 0 degrees of freedom (any real ν, as Welch's test needs).
///
/// CDF: for t >= 0, F(t) = 1 - I_x(ν/2, 1/2) / 2 with x = ν / (ν + t²) and I the regularized incomplete
/// beta function; F(-t) = 1 - F(t). The quantile inverts the CDF by bisection.
/// Provenance: Abramowitz & Stegun 26.7.1 and 26.5.27; the continued fraction of I_x is Numerical
/// Recipes' `betacf` (modified Lentz). Checked against `scipy.stats.t` in the tests.
public struct StudentT: Equatable, Sendable {
    public let degreesOfFreedom: Double

    public init(degreesOfFreedom: Double) {
        precondition(degreesOfFreedom > 0 && degreesOfFreedom.isFinite,
                     "StudentT: degrees of freedom must be positive and finite, got \(degreesOfFreedom)")
        self.degreesOfFreedom = degreesOfFreedom
    }

    /// P(T <= t).
    public func cdf(_ t: Double) -> Double {
        if t.isNaN { return .nan }
        if t == .infinity { return 1 }
        if t == -.infinity { return 0 }
        let nu = degreesOfFreedom
        let tail = 0.5 * regularizedIncompleteBeta(a: nu / 2, b: 0.5, x: nu / (nu + t * t))
        return t >= 0 ? 1 - tail : tail
    }

    /// The t with `cdf(t) == p`, for 0 < p < 1 (bisection to a relative width of 1e-14).
    public func quantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "StudentT.quantile: p must be in (0, 1), got \(p)")
        if p == 0.5 { return 0 }
        if p < 0.5 { return -quantile(1 - p) }
        var low = 0.0, high = 1.0
        while cdf(high) < p { low = high; high *= 2 }
        for _ in 0..<200 {
            let middle = 0.5 * (low + high)
            if cdf(middle) < p { low = middle } else { high = middle }
            if high - low <= 1e-14 * max(1, high) { break }
        }
        return 0.5 * (low + high)
    }

    /// Two-sided p-value of an observed statistic: P(|T| >= |t|) = 2 (1 - F(|t|)).
    public func twoSidedPValue(_ t: Double) -> Double {
        min(1, 2 * cdf(-abs(t)))
    }
}

/// The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1.
///
/// I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * betacf(a, b, x), using the symmetry I_x(a, b) = 1 - I_{1-x}(b, a)
/// where the continued fraction converges slowly (x > (a + 1) / (a + b + 2)). Provenance: Numerical Recipes
/// 3rd ed., section 6.4.
func regularizedIncompleteBeta(a: Double, b: Double, x: Double) -> Double {
    precondition(a > 0 && b > 0, "regularizedIncompleteBeta: a and b must be positive, got \(a), \(b)")
    if x <= 0 { return 0 }
    if x >= 1 { return 1 }
    let logBeta: Double = lgamma(a) + lgamma(b) - lgamma(a + b)
    let logFront: Double = a * Foundation.log(x) + b * Foundation.log(1 - x) - logBeta
    if x < (a + 1) / (a + b + 2) {
        return Foundation.exp(logFront) * betaContinuedFraction(a: a, b: b, x: x) / a
    }
    return 1 - Foundation.exp(logFront) * betaContinuedFraction(a: b, b: a, x: 1 - x) / b
}

/// The continued fraction of the incomplete beta function, evaluated by the modified Lentz method.
private func betaContinuedFraction(a: Double, b: Double, x: Double) -> Double {
    let tiny = 1e-300
    func guarded(_ value: Double) -> Double { abs(value) < tiny ? tiny : value }
    let qab = a + b, qap = a + 1, qam = a - 1
    var c = 1.0
    var d = 1 / guarded(1 - qab * x / qap)
    var h = d
    for m in 1...500 {
        let m = Double(m), m2 = 2 * m
        var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 / guarded(1 + aa * d)
        c = guarded(1 + aa / c)
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 / guarded(1 + aa * d)
        c = guarded(1 + aa / c)
        let step = d * c
        h *= step
        if abs(step - 1) < 1e-15 { break }
    }
    return h
}

/// Welch's two-sample t-test of equal means for two independent samples with possibly unequal variances.
///
/// t = (m_a - m_b) / se with se = sqrt(s_a²/n_a + s_b²/n_b) (s: sample std, n - 1); degrees of freedom by
/// Welch-Satterthwaite, ν = se⁴ / ((s_a²/n_a)² / (n_a - 1) + (s_b²/n_b)² / (n_b - 1)); two-sided p-value from
/// Student's t with ν degrees of freedom. Provenance: Welch (1947), Biometrika 34; matches
/// `scipy.stats.ttest_ind(a, b, equal_var=False)`.
public struct WelchTest: Equatable, Sendable {
    /// m_a - m_b.
    public var difference: Double
    public var standardError: Double
    public var t: Double
    public var degreesOfFreedom: Double
    /// P(|T| >= |t|) under equal means.
    public var pValue: Double

    /// The test of `a` against `b`; nil when either has fewer than two values (no spread to test against).
    ///
    /// When both samples have zero spread, se = 0: equal means give t = 0, p = 1; different means give
    /// t = ±infinity, p = 0, with ν = n_a + n_b - 2.
    public init?(_ a: [Double], _ b: [Double]) {
        guard a.count >= 2, b.count >= 2 else { return nil }
        let (ma, va) = Self.meanAndVariance(a), (mb, vb) = Self.meanAndVariance(b)
        let qa = va / Double(a.count), qb = vb / Double(b.count)
        difference = ma - mb
        standardError = (qa + qb).squareRoot()
        if standardError > 0 {
            t = difference / standardError
            degreesOfFreedom = (qa + qb) * (qa + qb) / (qa * qa / Double(a.count - 1) + qb * qb / Double(b.count - 1))
            pValue = StudentT(degreesOfFreedom: degreesOfFreedom).twoSidedPValue(t)
        } else {
            degreesOfFreedom = Double(a.count + b.count - 2)
            t = difference == 0 ? 0 : (difference > 0 ? .infinity : -.infinity)
            pValue = difference == 0 ? 1 : 0
        }
    }

    /// Whether equal means are rejected at `level` (two-sided): |t| above the (1 - level/2) quantile.
    public func rejectsEqualMeans(level: Double = 0.05) -> Bool { pValue < level }

    /// The |t| the difference would need at `level` (two-sided) with these degrees of freedom.
    public func criticalValue(level: Double = 0.05) -> Double {
        StudentT(degreesOfFreedom: degreesOfFreedom).quantile(1 - level / 2)
    }

    static func meanAndVariance(_ values: [Double]) -> (mean: Double, variance: Double) {
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return (mean, 0) }
        return (mean, values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1))
    }
}
