import Foundation

/// The reference study's claim about batch normalization, tested on each batch-norm run against its baseline.
///
/// Claim: "Batch Normalization was tested but did not significantly improve results; however, it slowed training."
/// Parts, each per pair (Welch tests of `SeedComparison`, two-sided at 5 %, over the seeds):
/// - no improvement: no quality metric (test MSE, every FID; lower is better) of the batch-norm run is significantly
///   below its baseline's. A significant improvement contradicts the claim; a significant deterioration does not.
/// - slower: seconds per epoch significantly above the baseline's confirms it, significantly below contradicts it,
///   within the spread leaves it not shown.
/// Verdict over all pairs: contradicted if any part of any pair is contradicted; confirmed if every pair shows a
/// significant slowdown (and no improvement); otherwise not shown; not measured without a testable pair.
public enum BatchNormClaim {
    public static let statement = "batch normalization did not significantly improve results but slowed training"

    /// The batch-norm runs of the study and the runs they add batch norm to.
    public static let pairs: [(run: String, baseline: String)] = [("vae_std_z20_bn", "vae_std_z20"), ("vae_conv_bn", "vae_conv")]

    /// The tests of one pair: `quality` (test MSE, FIDs; first = the batch-norm run) and `secondsPerEpoch`.
    public struct PairTests: Sendable {
        public var quality: [SeedComparison]
        public var secondsPerEpoch: SeedComparison?

        public init(quality: [SeedComparison], secondsPerEpoch: SeedComparison?) {
            self.quality = quality; self.secondsPerEpoch = secondsPerEpoch
        }

        /// Whether some quality metric of the batch-norm run is significantly better (lower) than its baseline's.
        public var improves: Bool { quality.contains { $0.verdict == .larger && $0.difference < 0 } }
    }

    public static func verdict(_ tests: [PairTests]) -> ClaimVerdict {
        let testable = tests.filter { pair in
            pair.secondsPerEpoch.map { $0.verdict != .unavailable } ?? false
                || pair.quality.contains { $0.verdict != .unavailable }
        }
        guard !testable.isEmpty else { return .notMeasured }
        let faster = testable.contains { $0.secondsPerEpoch.map { $0.verdict == .larger && $0.difference < 0 } ?? false }
        if faster || testable.contains(where: \.improves) { return .contradicted }
        let slower = testable.allSatisfy { $0.secondsPerEpoch.map { $0.verdict == .larger && $0.difference > 0 } ?? false }
        return slower ? .confirmed : .notShown
    }
}
