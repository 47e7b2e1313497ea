import Foundation
import Storage

/// One conclusion of the reference study as a statement that our results can confirm or contradict
/// (`fixtures/claims.json`).
public struct StudyClaim: Codable, Equatable, Sendable {
    /// How the statement is tested on the per-seed values, each pair by Welch's two-sided test at 5 %
    /// (`SeedComparison`).
    public enum Kind: String, Codable, Sendable {
        /// runs[i] < baseline for every run.
        case lower
        /// runs[i] > baseline for every run.
        case higher
        /// runs[i] is not below baseline (within the spread, or above).
        case notLower
        /// runs[0] is below baseline or level with it, by at most `tolerance` (relative) if at all ("minimal
        /// improvement").
        case slightlyLower
        /// The metric grows along `runs` (each run above the one before it).
        case increasing
        /// Every one of `runs` is below every run of `among`.
        case lowest
        /// The claim is about training longer: answered by the longer study's snapshots (`checkEpochs`).
        case moreEpochs
    }

    /// What is compared, per run over its seeds.
    public enum Metric: String, Codable, Sendable {
        /// Test MSE.
        case mse
        /// FID of prior samples in the LeNet feature space.
        case fid
        /// Training seconds per epoch.
        case epochSeconds
    }

    public var id: String
    public var statement: String
    public var kind: Kind
    public var metric: Metric
    public var runs: [String]
    public var baseline: String?
    public var among: [String]?
    public var tolerance: Double?
    /// The reference study's own numbers behind the claim, as it reports them.
    public var reference: String

    public init(id: String, statement: String, kind: Kind, metric: Metric, runs: [String], baseline: String? = nil,
                among: [String]? = nil, tolerance: Double? = nil, reference: String) {
        self.id = id; self.statement = statement; self.kind = kind; self.metric = metric; self.runs = runs
        self.baseline = baseline; self.among = among; self.tolerance = tolerance; self.reference = reference
    }
}

/// What the measurements over seeds say about one of the reference study's claims.
public enum ClaimVerdict: String, Codable, Equatable, Sendable {
    /// Every part of the claim holds and the tests show what it asserts.
    case confirmed
    /// Nothing contradicts the claim, but the differences it asserts are within the spread over seeds (or a run has
    /// one seed only, so there is no spread to test against).
    case notShown = "not shown (within the spread)"
    /// A test shows the opposite of a part of the claim.
    case contradicted
    /// Our results do not measure it: a run the claim concerns is missing, or it is about longer training.
    case notMeasured = "not measured"
}

/// A claim with our figures, the test behind the verdict and the verdict.
public struct ClaimCheck: Sendable {
    public var claim: StudyClaim
    public var verdict: ClaimVerdict
    /// Each run the claim involves with its statistic over seeds (nil where the run has no results).
    public var ours: [(run: String, statistic: SeedStatistic?)]
    /// The comparisons made, e.g. "vae_std_z20_res < vae_std_z20: p = 0.003".
    public var tests: [String]
}

/// Reads the claims file and checks each claim against the results.
public enum StudyClaims {
    struct File: Codable { var claims: [StudyClaim] }

    /// The shipped claims file, found like the other assets (`ToolkitAssets`).
    public static let assetName = "claims.json"

    public static func load(contentsOf path: String) throws -> [StudyClaim] {
        do {
            return try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: path))).claims
        } catch is DecodingError {
            throw FileError.cannotRead(path: path, reason: "not a claims file (a JSON object with a \"claims\" list; see fixtures/claims.json)")
        } catch {
            throw FileError.cannotRead(path: path, reason: "no such file, or not readable")
        }
    }

    /// The verdict on `claim` given each run's statistic of a metric (nil: the run has no results).
    /// `curves` gives the longer study's per-epoch curves of a run (its seeds'), for the `moreEpochs` claims.
    public static func check(_ claim: StudyClaim, level: Double = 0.05,
                             statistic: (_ run: String, _ metric: StudyClaim.Metric) -> SeedStatistic?,
                             curves: ((_ run: String) -> [EpochCurve])? = nil) -> ClaimCheck {
        let involved = claim.runs + [claim.baseline].compactMap { $0 } + (claim.among ?? [])
        let ours = involved.map { (run: $0, statistic: statistic($0, claim.metric)) }
        if claim.kind == .moreEpochs, let curves { return checkEpochs(claim, ours: ours, curves: curves) }
        var tests: [String] = []
        /// Welch's verdict on a < b: +1 significantly below, -1 significantly above, 0 within (or one seed).
        func order(_ a: String, _ b: String) -> Int? {
            guard let sa = statistic(a, claim.metric), let sb = statistic(b, claim.metric) else { return nil }
            let comparison = SeedComparison(metric: claim.metric.rawValue, first: a, sa, second: b, sb, level: level)
            let p = comparison.test.map { String(format: "p = %.3g", $0.pValue) } ?? "one seed"
            tests.append("\(a) vs \(b): \(String(format: "%+.4g", comparison.difference)) (\(p))")
            guard comparison.verdict == .larger else { return 0 }
            return comparison.difference < 0 ? 1 : -1
        }
        func pairs() -> [(String, String)]? {
            switch claim.kind {
            case .lower, .notLower, .slightlyLower:
                guard let baseline = claim.baseline else { return nil }
                return claim.runs.map { ($0, baseline) }
            case .higher:
                guard let baseline = claim.baseline else { return nil }
                return claim.runs.map { (baseline, $0) }
            case .increasing:
                return Array(zip(claim.runs, claim.runs.dropFirst()))
            case .lowest:
                return claim.runs.flatMap { run in (claim.among ?? []).map { (run, $0) } }
            case .moreEpochs:
                return nil
            }
        }
        guard let pairs = pairs(), !pairs.isEmpty else {
            return ClaimCheck(claim: claim, verdict: .notMeasured, ours: ours, tests: ["needs the longer study"])
        }
        let orders = pairs.map { order($0.0, $0.1) }
        guard orders.allSatisfy({ $0 != nil }) else {
            return ClaimCheck(claim: claim, verdict: .notMeasured, ours: ours, tests: tests + ["a run has no results"])
        }
        let signs = orders.map { $0! }
        let oneSeed = pairs.contains { a, b in statistic(a, claim.metric)!.count < 2 || statistic(b, claim.metric)!.count < 2 }
        let verdict: ClaimVerdict
        switch claim.kind {
        case .notLower:
            verdict = signs.contains(1) ? .contradicted : (oneSeed ? .notShown : .confirmed)
        case .slightlyLower:
            let tolerance = claim.tolerance ?? 0.1
            let relative = pairs.map { a, b in
                (statistic(a, claim.metric)!.mean - statistic(b, claim.metric)!.mean) / abs(statistic(b, claim.metric)!.mean)
            }
            if signs.contains(-1) || zip(signs, relative).contains(where: { $0 == 1 && -$1 > tolerance }) {
                verdict = .contradicted
            } else if relative.allSatisfy({ $0 <= 0 && -$0 <= tolerance }) {
                verdict = .confirmed
            } else {
                verdict = .notShown
            }
            tests.append(relative.map { String(format: "relative change %+.1f%% (tolerance %.0f%%)", 100 * $0, 100 * tolerance) }
                .joined(separator: "; "))
        default:
            verdict = signs.allSatisfy { $0 == 1 } ? .confirmed : (signs.contains(-1) ? .contradicted : .notShown)
        }
        return ClaimCheck(claim: claim, verdict: verdict, ours: ours, tests: tests)
    }

    /// The report's table: one row per claim with the reference study's numbers, ours, the test and the verdict.
    /// `fidLabel` names the FID's feature space in the "ours" column.
    public static func markdown(_ checks: [ClaimCheck], fidLabel: String = "FID (LeNet, prior)") -> String {
        func figure(_ s: SeedStatistic?, _ metric: StudyClaim.Metric) -> String {
            guard let s else { return "-" }
            let digits = metric == .mse ? "%.5f" : (metric == .fid ? "%.1f" : "%.2f")
            let mean = String(format: digits, s.mean)
            return s.standardDeviation.map { mean + " ± " + String(format: digits, $0) } ?? mean
        }
        var md = "| claim | reference study | ours (mean ± std over seeds) | test | verdict |\n|---|---|---|---|---|\n"
        for check in checks {
            let ours = check.ours.map { "\($0.run) \(figure($0.statistic, check.claim.metric))" }.joined(separator: "; ")
            let metric = ["mse": "test MSE", "fid": fidLabel, "epochSeconds": "s/epoch"][check.claim.metric.rawValue]!
            md += "| \(check.claim.statement) | \(check.claim.reference) | \(metric): \(ours) | \(check.tests.joined(separator: "; ")) | **\(check.verdict.rawValue)** |\n"
        }
        return md
    }
}
