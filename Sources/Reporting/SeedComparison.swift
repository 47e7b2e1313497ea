import Foundation

/// Whether the difference between two runs' means over seeds is larger than their spread over seeds.
///
/// Rule: Welch's two-sample t-test on the per-seed values, two-sided at `level` (5 %): the difference is
/// larger than the spread when p < level, i.e. |t| exceeds the Student-t (1 - level/2) quantile with
/// Welch-Satterthwaite degrees of freedom. With 3 seeds each this needs |Δ| / sqrt(s_a² + s_b²) above about
/// 1.6 (equal spreads, ν = 4) to 2.5 (one spread dominating, ν -> 2). Also reported: that plain ratio, the
/// difference in units of the std of the difference between one seed of each run.
public struct SeedComparison: Sendable {
    public enum Verdict: Equatable, Sendable {
        /// The test rejects equal means: the difference is larger than the spread over seeds.
        case larger
        /// The difference is within the spread over seeds.
        case within
        /// A run has fewer than two seeds: no spread to compare against.
        case unavailable
    }

    /// What is compared, e.g. "test MSE" or "FID".
    public var metric: String
    public var first: String
    public var second: String
    public var firstStatistic: SeedStatistic
    public var secondStatistic: SeedStatistic
    /// Significance level of the two-sided test.
    public var level: Double

    public init(metric: String, first: String, _ firstStatistic: SeedStatistic, second: String,
                _ secondStatistic: SeedStatistic, level: Double = 0.05) {
        precondition(level > 0 && level < 1, "SeedComparison: level must be in (0, 1), got \(level)")
        self.metric = metric; self.first = first; self.second = second
        self.firstStatistic = firstStatistic; self.secondStatistic = secondStatistic; self.level = level
    }

    /// Mean of `first` minus mean of `second`.
    public var difference: Double { firstStatistic.mean - secondStatistic.mean }

    /// |Δ| / sqrt(s_a² + s_b²); nil when a run has one seed (infinite when both spreads are 0 and Δ is not).
    public var spreadRatio: Double? {
        guard let a = firstStatistic.standardDeviation, let b = secondStatistic.standardDeviation else { return nil }
        let combined = (a * a + b * b).squareRoot()
        return combined > 0 ? abs(difference) / combined : (difference == 0 ? 0 : .infinity)
    }

    /// Welch's test on the per-seed values; nil when a run has one seed.
    public var test: WelchTest? { WelchTest(firstStatistic.values, secondStatistic.values) }

    public var verdict: Verdict {
        guard let test else { return .unavailable }
        return test.rejectsEqualMeans(level: level) ? .larger : .within
    }
}

extension SeedComparison {
    /// A question the reference study answers by comparing two of its runs.
    public struct StudyQuestion: Sendable {
        /// What differs between the runs, e.g. "residual connections".
        public var change: String
        public var run: String
        public var baseline: String
    }

    /// The pairs the study's claims rest on: each variant against the plain `vae_std_z20`.
    public static let studyQuestions: [StudyQuestion] = [
        .init(change: "residual connections", run: "vae_std_z20_res", baseline: "vae_std_z20"),
        .init(change: "latent size 40 instead of 20", run: "vae_std_z40", baseline: "vae_std_z20"),
        .init(change: "β = 0.5", run: "beta_vae_0.5", baseline: "vae_std_z20"),
        .init(change: "β = 2", run: "beta_vae_2", baseline: "vae_std_z20"),
        .init(change: "β = 4", run: "beta_vae_4", baseline: "vae_std_z20"),
        .init(change: "convolutional encoder and decoder", run: "vae_conv", baseline: "vae_std_z20"),
        .init(change: "WAE (MMD penalty instead of KL)", run: "wae", baseline: "vae_std_z20"),
        .init(change: "Gaussian-mixture prior", run: "gm_vae", baseline: "vae_std_z20"),
    ]

    /// Each group against the next in ascending order of `value` (groups without it are left out).
    public static func neighbours(_ groups: [SeedGroup], metric: String, value: (SeedGroup) -> SeedStatistic?,
                                  level: Double = 0.05) -> [SeedComparison] {
        let sorted = groups.compactMap { g in value(g).map { (g.run, $0) } }.sorted { $0.1.mean < $1.1.mean }
        return zip(sorted, sorted.dropFirst()).map { lower, higher in
            SeedComparison(metric: metric, first: higher.0, higher.1, second: lower.0, lower.1, level: level)
        }
    }
}
