import Foundation
import Testing
@testable import Reporting

/// Kendall's tau-b and its p-value against scipy.stats.kendalltau (scipy 1.17.1, method "auto": exact without ties
/// for n <= 33, else the tie-corrected normal approximation), and tau against a plain count of the pairs.
struct KendallTauTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let x: [Double], y: [Double]
        /// scipy.stats.kendalltau(x, y): statistic and pvalue.
        let tau: Double, pValue: Double
        var testDescription: String { "n = \(x.count)" }
    }

    static let cases: [Case] = [
        // A tie in y: asymptotic p.
        Case(x: [1, 2, 3, 4, 5], y: [5, 6, 7, 8, 7], tau: 0.7378647873726218, pValue: 0.07697417298126674),
        // No ties: exact p.
        Case(x: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], y: [3, 1, 2, 5, 4, 7, 6, 10, 8, 9],
             tau: 0.7333333333333333, pValue: 0.002212852733686067),
        // Ties in both.
        Case(x: [12, 2, 1, 12, 2], y: [1, 4, 7, 1, 0], tau: -0.4714045207910316, pValue: 0.28274545993277467),
        // Reversed: tau -1, one discordant-free extreme.
        Case(x: [1, 2, 3, 4, 5, 6], y: [6, 5, 4, 3, 2, 1], tau: -1, pValue: 0.002777777777777778),
        // FID-like values of seven runs in two feature spaces.
        Case(x: [64.45, 70.1, 80.2, 90.5, 120.3, 247.84, 100.0], y: [260, 300, 280, 350, 400, 560, 330],
             tau: 0.8095238095238096, pValue: 0.010714285714285714),
        Case(x: [3.1, 1.2, 5.5, 2.2, 4.4, 6.6, 7.7, 0.5, 9.9, 8.8], y: [2, 1, 3, 4, 5, 6, 8, 7, 10, 9],
             tau: 0.6, pValue: 0.016666115520282188),
    ]

    @Test(arguments: cases) func matchesScipy(_ c: Case) throws {
        let result = try #require(KendallTau(c.x, c.y))
        #expect(abs(result.tau - c.tau) < 1e-12, "tau \(result.tau) vs scipy \(c.tau)")
        #expect(abs(result.pValue - c.pValue) <= 1e-9 * max(1, c.pValue), "p \(result.pValue) vs scipy \(c.pValue)")
        #expect(result.count == c.x.count)
    }

    /// Without ties tau is (concordant - discordant) / (n choose 2), counted here pair by pair.
    @Test(arguments: cases.filter { Set($0.x).count == $0.x.count && Set($0.y).count == $0.y.count })
    func tauWithoutTiesIsThePairCount(_ c: Case) throws {
        var score = 0
        for i in c.x.indices { for j in c.x.indices where j > i { score += (c.x[i] < c.x[j]) == (c.y[i] < c.y[j]) ? 1 : -1 } }
        let n = c.x.count
        #expect(abs(try #require(KendallTau(c.x, c.y)).tau - Double(score) / Double(n * (n - 1) / 2)) < 1e-12)
    }

    @Test func undefinedForConstantOrSingleSamples() {
        #expect(KendallTau([1, 1, 1], [1, 2, 3]) == nil)
        #expect(KendallTau([1], [2]) == nil)
    }
}
