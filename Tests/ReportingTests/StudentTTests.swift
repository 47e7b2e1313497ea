import Foundation
@testable import Reporting
import Testing

/// Student's t distribution and Welch's test against scipy 1.17.1: the reference numbers below are
/// `scipy.stats.t.ppf(p, df)`, `scipy.stats.t.cdf(t, df)` and
/// `scipy.stats.ttest_ind(a, b, equal_var=False)` (statistic, pvalue, df), printed with `repr`.
@Suite struct StudentTTests {
    /// (p, ν, scipy.stats.t.ppf(p, ν)).
    static let quantiles: [(Double, Double, Double)] = [
        (0.975, 1, 12.706204736174694),
        (0.975, 2, 4.302652729749462),
        (0.975, 3, 3.1824463052837078),
        (0.975, 4, 2.7764451051977934),
        (0.975, 3.6697, 2.8778331797063363),
        (0.95, 10, 1.8124611228116756),
        (0.995, 2.5, 7.163728138948783),
        (0.6, 30, 0.2556053649519128),
        (0.025, 4, -2.7764451051977943),
        (0.999, 1.5, 52.18443000899263),
    ]

    /// (t, ν, scipy.stats.t.cdf(t, ν)).
    static let cdfs: [(Double, Double, Double)] = [
        (0.5, 2, 0.6666666666666666),
        (1.0, 3, 0.8044988905221148),
        (2.0, 4, 0.9419417382415922),
        (-1.5, 2.5, 0.12391822654314809),
        (3.0, 10, 0.9933281724887152),
        (0, 5, 0.5),
        (10, 1, 0.9682744825694465),
        (4.0, 3.7, 0.9906055449906094),
    ]

    @Test(arguments: quantiles.indices)
    func quantileMatchesScipy(index: Int) {
        let (p, nu, expected) = Self.quantiles[index]
        let value = StudentT(degreesOfFreedom: nu).quantile(p)
        #expect(abs(value - expected) <= 1e-9 * max(1, abs(expected)), "t.ppf(\(p), \(nu)) = \(value), scipy \(expected)")
    }

    @Test(arguments: cdfs.indices)
    func cdfMatchesScipy(index: Int) {
        let (t, nu, expected) = Self.cdfs[index]
        let value = StudentT(degreesOfFreedom: nu).cdf(t)
        #expect(abs(value - expected) <= 1e-12, "t.cdf(\(t), \(nu)) = \(value), scipy \(expected)")
    }

    @Test func quantileInvertsTheCDFAndIsSymmetric() {
        for nu in [1.0, 2.2, 7, 50] {
            let t = StudentT(degreesOfFreedom: nu)
            for p in [0.01, 0.2, 0.5, 0.77, 0.999] {
                #expect(abs(t.cdf(t.quantile(p)) - p) < 1e-12)
                #expect(abs(t.quantile(p) + t.quantile(1 - p)) < 1e-9 * max(1, abs(t.quantile(p))))
            }
        }
    }

    @Test func welchMatchesScipy() throws {
        // (a, b, statistic, pvalue, df) from scipy.stats.ttest_ind(a, b, equal_var=False).
        let cases: [([Double], [Double], Double, Double, Double)] = [
            ([1.0, 1.2, 0.9], [2.0, 2.3, 1.9], -6.931810730249348, 0.0031069864458750747, 3.669724770642202),
            ([385.4, 391.0, 379.9], [395.7, 388.1, 401.5], -1.921035381309033, 0.12965812478485425, 3.8620514125996768),
            ([3.1, 2.9, 3.4, 3.0], [2.5, 2.7], 3.3968311024337865, 0.03805583648456861, 3.2292993630573217),
        ]
        for (a, b, t, p, df) in cases {
            let test = try #require(WelchTest(a, b))
            #expect(abs(test.t - t) < 1e-9 * abs(t))
            #expect(abs(test.pValue - p) < 1e-9)
            #expect(abs(test.degreesOfFreedom - df) < 1e-9 * df)
        }
    }

    @Test func welchEdgeCases() throws {
        #expect(WelchTest([1], [2, 3]) == nil)
        let same = try #require(WelchTest([2, 2, 2], [2, 2]))
        #expect(same.pValue == 1 && same.t == 0)
        let apart = try #require(WelchTest([2, 2, 2], [3, 3, 3]))
        #expect(apart.pValue == 0 && apart.t == -.infinity && apart.degreesOfFreedom == 4)
        #expect(apart.rejectsEqualMeans())
    }
}
