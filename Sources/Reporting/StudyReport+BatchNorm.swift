import Foundation
import Training

/// The batch-norm runs against their baselines over the seeds, and the verdict on the reference study's claim.
extension StudyReport {
    /// Per pair of `BatchNormClaim.pairs` present among the seed groups: the Welch tests of test MSE, every FID and
    /// seconds per epoch (a seed's training wall time over its epochs).
    var batchNormTests: [(run: String, baseline: String, tests: BatchNormClaim.PairTests)] {
        let groups = seedGroups
        let samplers = SeedAggregation.orderedSamplers(groups.flatMap(\.fid.keys))
        func group(_ run: String) -> SeedGroup? { Self.group(run, in: groups) }
        return BatchNormClaim.pairs.compactMap { pair in
            guard let run = group(pair.run), let baseline = group(pair.baseline) else { return nil }
            var quality = [SeedComparison(metric: "test MSE", first: run.run, run.mse, second: baseline.run, baseline.mse)]
            for sampler in samplers {
                guard let a = run.fid[sampler], let b = baseline.fid[sampler] else { continue }
                quality.append(SeedComparison(metric: fidName(sampler), first: run.run, a.overSeeds, second: baseline.run, b.overSeeds))
            }
            let speed = secondsPerEpoch(run).flatMap { a in
                secondsPerEpoch(baseline).map { SeedComparison(metric: "seconds per epoch", first: run.run, a, second: baseline.run, $0) }
            }
            return (pair.run, pair.baseline, BatchNormClaim.PairTests(quality: quality, secondsPerEpoch: speed))
        }
    }

    /// Seconds per epoch of each seed of `g` (its training wall time over its epochs); nil unless every seed has one.
    func secondsPerEpoch(_ g: SeedGroup) -> SeedStatistic? {
        let byFolder = entriesByFolder
        let values = g.members.compactMap { member -> Double? in
            guard let t = byFolder[member.folderName]?.training, t.completedEpochs > 0 else { return nil }
            return t.wallSeconds / Double(t.completedEpochs)
        }
        return values.count == g.members.count && !values.isEmpty ? SeedStatistic(values: values) : nil
    }

    /// The section, or nil when no batch-norm run is in the report.
    var batchNormSection: String? {
        let pairs = batchNormTests
        guard !pairs.isEmpty else { return nil }
        var md = "## Batch normalization against its baselines\n\n"
        md += "The reference study: \"Batch Normalization was tested but did not significantly improve results; however, "
        md += "it slowed training.\" Each batch-norm run (BatchNorm1d/2d after each hidden layer, before its ReLU) against "
        md += "the same model without it, with the Welch test of the section above; seconds per epoch are each seed's "
        md += "training wall time over its epochs, so they compare only runs trained in the same sitting on the same load.\n\n"
        md += "| metric | run | baseline | run: mean ± std | baseline: mean ± std | Δ | ratio | t (ν) | p | verdict |\n"
        md += "|---|---|---|---:|---:|---:|---:|---:|---:|---|\n"
        for pair in pairs {
            for c in pair.tests.quality { md += comparisonCells(c, digits: c.metric == "test MSE" ? 5 : 2) + "\n" }
            if let speed = pair.tests.secondsPerEpoch { md += comparisonCells(speed, digits: 2) + "\n" }
        }
        let verdict = BatchNormClaim.verdict(pairs.map(\.tests))
        md += "\nClaim \"\(BatchNormClaim.statement)\": **\(verdict.rawValue)**"
        let improved = pairs.filter { $0.tests.improves }.map(\.run)
        let slower = pairs.filter { $0.tests.secondsPerEpoch.map { $0.verdict == .larger && $0.difference > 0 } ?? false }.map(\.run)
        md += " (significantly better quality: \(improved.isEmpty ? "none" : improved.joined(separator: ", ")); "
        md += "significantly slower per epoch: \(slower.isEmpty ? "none" : slower.joined(separator: ", ")); "
        md += "pairs: \(pairs.map { "\($0.run) vs \($0.baseline)" }.joined(separator: ", "))).\n"
        return md
    }
}
