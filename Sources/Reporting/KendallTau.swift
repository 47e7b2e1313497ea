import Foundation

/// Kendall's rank correlation of two paired samples, tau-b (ties in either sample counted as Kendall 1945 does),
/// with the two-sided p-value of "no association", computed as `scipy.stats.kendalltau(x, y)` (method "auto").
///
/// tau_b = (C - D) / sqrt((n0 - n1)(n0 - n2)), over the n0 = n(n-1)/2 pairs: C concordant, D discordant, n1 and n2
/// the pairs tied in x and in y. p-value: exact without ties for n <= 33 (the permutation distribution of the
/// number of inversions, Mahonian numbers), else the normal approximation of C - D with its tie-corrected variance.
public struct KendallTau: Equatable, Sendable {
    public var tau: Double
    public var pValue: Double
    /// Pairs (x_i, y_i).
    public var count: Int

    /// Nil for fewer than 2 pairs or a constant sample (tau undefined).
    public init?(_ x: [Double], _ y: [Double]) {
        precondition(x.count == y.count, "KendallTau: \(x.count) x values, \(y.count) y values")
        let n = x.count
        guard n >= 2 else { return nil }
        var concordant = 0, discordant = 0
        for i in 0..<n {
            for j in (i + 1)..<n {
                let s = (x[i] - x[j]).sign0 * (y[i] - y[j]).sign0
                if s > 0 { concordant += 1 } else if s < 0 { discordant += 1 }
            }
        }
        let tiesX = Self.tieCounts(x), tiesY = Self.tieCounts(y)
        let n0 = Double(n * (n - 1) / 2)
        let n1 = tiesX.reduce(0.0) { $0 + Double($1 * ($1 - 1) / 2) }
        let n2 = tiesY.reduce(0.0) { $0 + Double($1 * ($1 - 1) / 2) }
        guard n0 > n1, n0 > n2 else { return nil }
        tau = Double(concordant - discordant) / ((n0 - n1) * (n0 - n2)).squareRoot()
        count = n
        let total = Int(n0)
        if n1 == 0, n2 == 0, n <= 33 || min(discordant, total - discordant) <= 1 {
            pValue = Self.exactPValue(n: n, inversions: min(discordant, total - discordant))
        } else {
            let m = Double(n * (n - 1))
            let x0 = tiesX.reduce(0.0) { $0 + Double($1 * ($1 - 1) * ($1 - 2)) }
            let y0 = tiesY.reduce(0.0) { $0 + Double($1 * ($1 - 1) * ($1 - 2)) }
            let x1 = tiesX.reduce(0.0) { $0 + Double($1 * ($1 - 1) * (2 * $1 + 5)) }
            let y1 = tiesY.reduce(0.0) { $0 + Double($1 * ($1 - 1) * (2 * $1 + 5)) }
            let variance = (m * Double(2 * n + 5) - x1 - y1) / 18 + 2 * n1 * n2 / m
                + (n > 2 ? x0 * y0 / (9 * m * Double(n - 2)) : 0)
            let z = Double(concordant - discordant) / variance.squareRoot()
            pValue = erfc(abs(z) / 2.0.squareRoot())
        }
    }

    /// The sizes of the groups of equal values (groups of one left out).
    static func tieCounts(_ values: [Double]) -> [Int] {
        Dictionary(grouping: values, by: { $0 }).values.map(\.count).filter { $0 > 1 }
    }

    /// P(|C - D| >= observed) without ties: twice the share of the n! permutations with at most `inversions`
    /// inversions (the smaller of D and n0 - D), capped at 1.
    static func exactPValue(n: Int, inversions c: Int) -> Double {
        guard n > 2 else { return 1 }
        if 4 * c == n * (n - 1) { return 1 }
        // counts[k]: permutations of the first j elements with k inversions, for k <= c.
        var counts = [Double](repeating: 0, count: c + 1)
        counts[0] = 1
        var factorial = 1.0
        for j in 2...n {
            factorial *= Double(j)
            var next = [Double](repeating: 0, count: c + 1)
            var window = 0.0
            for k in 0...c {
                window += counts[k]
                if k - j >= 0 { window -= counts[k - j] }
                next[k] = window
            }
            counts = next
        }
        return min(1, 2 * counts.reduce(0, +) / factorial)
    }
}

extension Double {
    /// -1, 0 or 1.
    fileprivate var sign0: Int { self > 0 ? 1 : (self < 0 ? -1 : 0) }
}
