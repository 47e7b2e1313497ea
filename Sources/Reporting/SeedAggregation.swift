import Evaluation
import Foundation
import Training

/// One metric of a run over its training seeds: the per-seed values, their mean and sample standard deviation.
public struct SeedStatistic: Equatable, Sendable {
    /// One value per seed, in seed order.
    public var values: [Double]
    /// Mean over seeds.
    public var mean: Double
    /// Sample standard deviation over seeds (n - 1); nil for a single seed: no spread over seeds is available.
    public var standardDeviation: Double?

    public init(values: [Double]) {
        precondition(!values.isEmpty, "SeedStatistic: no values")
        self.values = values
        let (mean, variance) = WelchTest.meanAndVariance(values)
        self.mean = mean
        standardDeviation = values.count > 1 ? variance.squareRoot() : nil
    }

    /// Number of seeds.
    public var count: Int { values.count }
}

/// The FID of one sampler over a run's seeds. Each seed's FID is itself a mean over independent sample draws,
/// so there are two spreads: over seeds (training randomness plus the draw noise of each seed's mean) and
/// over draws within a seed (sampling noise only).
public struct SeedFID: Equatable, Sendable {
    /// The per-seed FIDs (each the mean over that seed's draws), their mean and std over seeds.
    public var overSeeds: SeedStatistic
    /// Pooled within-seed standard deviation over draws, sqrt(Σ_i (d_i - 1) s_i² / Σ_i (d_i - 1)) with d_i draws
    /// and draw std s_i of seed i; nil when no seed has two draws.
    public var pooledDrawStandardDeviation: Double?
    /// Draws per seed, in seed order.
    public var draws: [Int]

    /// Aggregates the per-seed summaries (in seed order).
    public init(_ perSeed: [FIDSummary]) {
        precondition(!perSeed.isEmpty, "SeedFID: no seeds")
        overSeeds = SeedStatistic(values: perSeed.map(\.mean))
        draws = perSeed.map(\.values.count)
        let freedom = draws.reduce(0) { $0 + $1 - 1 }
        pooledDrawStandardDeviation = freedom > 0
            ? (zip(perSeed, draws).reduce(0.0) { $0 + Double($1.1 - 1) * $1.0.standardDeviation * $1.0.standardDeviation }
               / Double(freedom)).squareRoot()
            : nil
    }

    /// The std of one seed's FID mean expected from draw noise alone: pooled draw std / sqrt(mean draws).
    /// A std over seeds well above it means training randomness, not sampling, dominates the spread.
    public var drawNoiseOfSeedMean: Double? {
        pooledDrawStandardDeviation.map { $0 / (Double(draws.reduce(0, +)) / Double(draws.count)).squareRoot() }
    }
}

/// The run folders of one run: `<run>-s<seed>` folders share a group; a folder without the suffix is a
/// group of one.
public struct SeedGroup: Sendable {
    public struct Member: Sendable {
        /// The run folder's name, e.g. `vae_std_z20-s2`.
        public var folderName: String
        /// The seed from the folder name; nil for a folder without the `-s<seed>` suffix.
        public var seed: UInt64?
        public var results: EvaluationResults
    }

    /// The run's name: the folder name without `-s<seed>`.
    public var run: String
    /// The group's folders, by seed.
    public var members: [Member]
    /// Test MSE over seeds.
    public var mse: SeedStatistic
    /// FID over seeds per sampler name (`SeedAggregation.priorSampler`, ...), for samplers every member has.
    public var fid: [String: SeedFID]

    /// Whether the group's folders carry a seed suffix (false for a lone folder without one).
    public var isSeeded: Bool { members.contains { $0.seed != nil } }
    public var seeds: [UInt64] { members.compactMap(\.seed) }

    /// `metric` over the seeds; nil unless every member has it.
    public func statistic(_ metric: (EvaluationResults) -> Double?) -> SeedStatistic? {
        let values = members.compactMap { metric($0.results) }
        return values.count == members.count ? SeedStatistic(values: values) : nil
    }
}

/// Groups evaluated run folders by run over their training seeds and aggregates their metrics.
public enum SeedAggregation {
    /// The FID of each sampler in one run's results, by sampler name.
    public typealias FIDExtractor = (EvaluationResults) -> [String: FIDSummary]

    /// Name of the model's own prior sampler (`EvaluationResults.generation`).
    public static let priorSampler = "prior"

    /// The FIDs of every sampler `results` holds: the prior's (`generation`) under `priorSampler`.
    /// Further samplers (e.g. ex-post "gmm") are added here, one line each.
    public static func fidsBySampler(_ results: EvaluationResults) -> [String: FIDSummary] {
        var fids: [String: FIDSummary] = [:]
        if let generation = results.generation { fids[priorSampler] = generation.fid }
        for (name, sampler) in results.samplers ?? [:] { if let g = sampler.generation { fids[name] = g.fid } }
        return fids
    }

    /// Sampler names in display order: the prior first, then the others by name.
    public static func orderedSamplers(_ names: some Sequence<String>) -> [String] {
        Set(names).sorted { a, b in
            a == priorSampler || b == priorSampler ? a == priorSampler && b != priorSampler : a < b
        }
    }

    /// Groups `runs` (folder name and results, in report order) by run: groups in order of first appearance,
    /// members by seed. A folder without `-s<seed>` forms its own group, even if its name equals another
    /// group's run name.
    public static func groups(_ runs: [(folder: String, results: EvaluationResults)],
                              fids: FIDExtractor = fidsBySampler) -> [SeedGroup] {
        var order: [String] = []
        var membersByKey: [String: [SeedGroup.Member]] = [:]
        for (folder, results) in runs {
            let (run, seed) = Study.splitSeededName(folder)
            // Seeded and unseeded folders of the same name never share a key ("/" cannot be in a folder name).
            let key = seed == nil ? "/" + folder : run
            if membersByKey[key] == nil { order.append(key) }
            membersByKey[key, default: []].append(.init(folderName: folder, seed: seed, results: results))
        }
        return order.map { key in
            let members = membersByKey[key]!.sorted { ($0.seed ?? 0, $0.folderName) < ($1.seed ?? 0, $1.folderName) }
            let perMember = members.map { fids($0.results) }
            let shared = perMember.dropFirst().reduce(Set(perMember[0].keys)) { $0.intersection($1.keys) }
            var fid: [String: SeedFID] = [:]
            for sampler in shared { fid[sampler] = SeedFID(perMember.map { $0[sampler]! }) }
            return SeedGroup(run: key.hasPrefix("/") ? String(key.dropFirst()) : key, members: members,
                             mse: SeedStatistic(values: members.map(\.results.reconstruction.meanSquaredError)),
                             fid: fid)
        }
    }

    /// Of `folders` (run-folder names), the one per run whose sheets represent it: the lowest seed of each
    /// seeded run, and every folder without a seed suffix.
    public static func representativeFolders(_ folders: [String]) -> Set<String> {
        var lowest: [String: (seed: UInt64, folder: String)] = [:]
        var result = Set<String>()
        for folder in folders {
            let (run, seed) = Study.splitSeededName(folder)
            guard let seed else { result.insert(folder); continue }
            if let current = lowest[run], (current.seed, current.folder) <= (seed, folder) { continue }
            lowest[run] = (seed, folder)
        }
        return result.union(lowest.values.map(\.folder))
    }
}
