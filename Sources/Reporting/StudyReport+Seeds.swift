import Evaluation
import Foundation
import Plotting
import Training

/// The notebook over several training seeds per run (`vae-train sweep --seeds N`, folders `<run>-s<seed>`):
/// one table row per run with mean ± std over seeds, the comparisons between runs against that spread, the
/// tradeoff plot at the group means with error bars in both directions, and the per-seed rows in an appendix.
extension StudyReport {
    /// The entries grouped by run over their seeds, in report order.
    public var seedGroups: [SeedGroup] {
        SeedAggregation.groups(entries.map { ($0.folder.name, $0.results) })
    }

    /// Whether any run folder is one seed of a run (`<run>-s<seed>`): the report then shows one row per run.
    public var hasSeededRuns: Bool {
        entries.contains { Study.splitSeededName($0.folder.name).seed != nil }
    }

    /// Indices (into `groups`) of the runs on the MSE-FID Pareto front of the group means (prior FID).
    public static func paretoFront(of groups: [SeedGroup]) -> [Int] {
        let points = tradeoffPoints(groups)
        return TradeoffPlot.paretoFront(points.map(\.point)).map { points[$0].group }
    }

    /// One point per group with a prior FID: the means over seeds, ± 1 std over seeds in both directions.
    static func tradeoffPoints(_ groups: [SeedGroup]) -> [(group: Int, point: ScatterPoint)] {
        groups.indices.compactMap { index in
            let g = groups[index]
            guard let fid = g.fid[SeedAggregation.priorSampler] else { return nil }
            return (index, ScatterPoint(label: g.run, x: g.mse.mean, y: fid.overSeeds.mean,
                                        xError: g.mse.standardDeviation, yError: fid.overSeeds.standardDeviation))
        }
    }

    /// One point per group at its best sampler: the sampler with the lowest mean FID over seeds, named in the label
    /// (`run (gmm)`); error bars as in `tradeoffPoints`. Groups without any FID are left out.
    static func bestSamplerPoints(_ groups: [SeedGroup]) -> [ScatterPoint] {
        groups.compactMap { g in
            guard let (sampler, fid) = g.fid.min(by: { ($0.value.overSeeds.mean, $0.key) < ($1.value.overSeeds.mean, $1.key) })
            else { return nil }
            return ScatterPoint(label: "\(g.run) (\(sampler))", x: g.mse.mean, y: fid.overSeeds.mean,
                                xError: g.mse.standardDeviation, yError: fid.overSeeds.standardDeviation)
        }
    }

    /// The tradeoff with each run at its best sampler (`bestSamplerPoints`); nil when no run was evaluated with a
    /// sampler besides the prior.
    public var bestSamplerTradeoffPlot: TradeoffPlot? {
        let groups = seedGroups
        guard groups.contains(where: { $0.fid.keys.contains { $0 != SeedAggregation.priorSampler } }) else { return nil }
        return TradeoffPlot(title: "Reconstruction vs generation, each run with its best sampler",
                            subtitle: "means over training seeds, error bars ±1 std over seeds; sampler with the lowest mean FID in brackets",
                            xLabel: "test reconstruction MSE (per pixel, [0, 1] scale)", yLabel: "FID (LeNet features)",
                            points: Self.bestSamplerPoints(groups))
    }

    /// The tradeoff plot at the group means with error bars of ± 1 std over seeds (MSE and FID).
    public var seedTradeoffPlot: TradeoffPlot {
        let groups = seedGroups
        let counts = Set(groups.map(\.members.count)).sorted()
        let seeds = counts.count <= 1 ? "\(counts.first ?? 0)" : "\(counts.first!)–\(counts.last!)"
        let samples = entries.compactMap { $0.results.generation?.settings.samples }.first.map { "\($0) " } ?? ""
        return TradeoffPlot(title: "Reconstruction vs generation: means over \(seeds) training seeds",
                            subtitle: "error bars ±1 std over seeds in both directions; FID of \(samples)prior samples; lower is better on both axes",
                            xLabel: "test reconstruction MSE (per pixel, [0, 1] scale)", yLabel: "FID (LeNet features)",
                            points: Self.tradeoffPoints(groups).map(\.point))
    }

    /// Training loss per epoch, averaged over each run's seeds (over the seeds that reached the epoch), one panel per
    /// kind of loss.
    public var seedTrainingCurves: LinePanels {
        let byFolder = entriesByFolder
        return Self.trainingCurvePanels(title: "Training loss per epoch (mean over seeds)", curves: seedGroups.map { g in
            var sums: [Int: (total: Double, count: Int)] = [:]
            for member in g.members {
                for epoch in byFolder[member.folderName]?.training.history ?? [] {
                    sums[epoch.epoch, default: (0, 0)].total += epoch.loss
                    sums[epoch.epoch, default: (0, 0)].count += 1
                }
            }
            let epochs = sums.keys.sorted()
            let kind = g.members.lazy.compactMap { byFolder[$0.folderName]?.results.modelKind }.first ?? ""
            return (kind, LinePlot.Series(label: g.run, x: epochs.map(Double.init),
                                          y: epochs.map { sums[$0]!.total / Double(sums[$0]!.count) }))
        })
    }

    var entriesByFolder: [String: ReportEntry] {
        Dictionary(entries.map { ($0.folder.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: - Notebook sections

    /// Settings lines added for seeded runs.
    var seedSettings: String {
        let groups = seedGroups
        let seeds = Set(groups.flatMap(\.seeds)).sorted()
        var md = "- Seeds: each run trained with training seeds \(seeds.map(String.init).joined(separator: ", ")) "
        md += "(run folders `<run>-s<seed>`, the number per run is the table's n). Tables and plot give mean ± sample std (n − 1) "
        md += "over seeds; the rows of the individual seeds are in the appendix.\n"
        return md
    }

    /// One row per run: mean ± std over seeds of every figure of the single-seed table.
    var seedTable: String {
        let groups = seedGroups
        let byFolder = entriesByFolder
        let samplers = SeedAggregation.orderedSamplers(groups.flatMap(\.fid.keys))
        let front = Set(Self.paretoFront(of: groups))
        var md = "| run | n | test MSE | study MSE | "
        md += samplers.map { $0 == SeedAggregation.priorSampler ? "FID [draws]" : "FID \($0) [draws]" }.joined(separator: " | ")
        let inception = hasInception
        md += (samplers.isEmpty ? "" : " | ") + (inception ? "FID (Inception) | " : "")
        md += "KID | precision | recall | class entropy | −ELBO | parameters | training s |\n"
        md += "|---|---:|---:|---:|" + String(repeating: "---:|", count: samplers.count + 7 + (inception ? 1 : 0)) + "\n"
        for (index, g) in groups.enumerated() {
            let name = front.contains(index) ? "**\(g.run)**" : g.run
            let reference = g.members.lazy.compactMap { byFolder[$0.folderName]?.referenceMSE }.first
            var row = "| \(name) | \(g.members.count) | \(pm(g.mse, 5)) | \(reference.map { f($0, 4) } ?? "n/a") | "
            for sampler in samplers {
                guard let fid = g.fid[sampler] else { row += "— | "; continue }
                row += pm(fid.overSeeds, 2) + (fid.pooledDrawStandardDeviation.map { " [\(f($0, 2))]" } ?? "") + " | "
            }
            if inception { row += pm(g.statistic { $0.samplers?[SamplerKind.prior.rawValue]?.inception?.fid.mean }, 2) + " | " }
            row += pm(g.statistic { $0.generation?.kid.mean }, 1) + " | "
            row += pm(g.statistic { $0.generation?.precisionRecall.precision }, 3) + " | "
            row += pm(g.statistic { $0.generation?.precisionRecall.recall }, 3) + " | "
            row += pm(g.statistic { $0.generation?.classes?.entropy }, 3) + " | "
            row += pm(g.statistic { $0.reconstruction.negativeELBO }, 2, missing: "n/a") + " | "
            row += "\(g.members[0].results.parameterCount) | "
            let seconds = g.members.compactMap { byFolder[$0.folderName]?.training.wallSeconds }
            row += (seconds.count == g.members.count ? pm(SeedStatistic(values: seconds), 1) : "—") + " |\n"
            md += row
        }
        md += "\nn: training seeds of the run; each cell is the mean ± sample std over them (just the mean for one seed). "
        md += "FID cells: mean ± std over seeds of the per-seed FIDs, each itself a mean over draws; in brackets the pooled "
        md += "std over draws within a seed (sampling noise alone). Bold: on the MSE-FID Pareto front of the means. "
        md += "Class entropy: ln 10 = 2.303 means all ten digits equally often.\n"
        return md
    }

    /// The comparisons between runs, each stated as larger than or within the spread over seeds.
    var seedComparisonSection: String {
        let groups = seedGroups
        var md = "## Differences between runs against the spread over seeds\n\n"
        guard groups.contains(where: { $0.members.count >= 2 }) else {
            md += "No spread over training seeds is available: every run has one seed, so no difference between runs "
            md += "can be compared with it (a ± above is the spread over FID draws only, which leaves out the training "
            md += "randomness). Train several seeds with `vae-train sweep --seeds 3` and rerun the report.\n"
            return md
        }
        md += "Rule: Welch's two-sample t-test on the per-seed values, two-sided at 5 % (Welch–Satterthwaite degrees of "
        md += "freedom ν, Student-t quantile computed by `StudentT`). A difference is **larger than the spread** when "
        md += "p < 0.05, otherwise **within the spread**. Per-seed FIDs are means over draws, so the draw noise is part of "
        md += "the spread over seeds. Ratio: |Δ| / √(s₁² + s₂²), the difference in units of the std of the difference "
        md += "between one seed of each run; with 3 seeds each the test needs a ratio of about 1.6 (equal spreads) to "
        md += "2.5 (one spread dominating). With about 20 comparisons at 5 %, one \"larger\" among pairs that do not "
        md += "really differ is to be expected; no correction for multiple comparisons is made.\n\n"

        let samplers = SeedAggregation.orderedSamplers(groups.flatMap(\.fid.keys))
        func group(_ run: String) -> SeedGroup? { Self.group(run, in: groups) }
        func metrics(_ g: SeedGroup) -> [(name: String, statistic: SeedStatistic, digits: Int)] {
            [("test MSE", g.mse, 5)] + samplers.compactMap { s in g.fid[s].map { (fidName(s), $0.overSeeds, 2) } }
        }
        var all: [SeedComparison] = []
        var rows: [String] = []
        for question in SeedComparison.studyQuestions {
            guard let run = group(question.run), let baseline = group(question.baseline) else { continue }
            let baselineMetrics = Dictionary(metrics(baseline).map { ($0.name, $0.statistic) }, uniquingKeysWith: { a, _ in a })
            for metric in metrics(run) {
                guard let other = baselineMetrics[metric.name] else { continue }
                let comparison = SeedComparison(metric: metric.name, first: run.run, metric.statistic, second: baseline.run, other)
                all.append(comparison)
                rows.append("| \(question.change) " + comparisonCells(comparison, digits: metric.digits))
            }
        }
        md += "### The study's comparisons (each variant against vae_std_z20)\n\n"
        if rows.isEmpty {
            md += "None of the study's pairs is among these runs.\n\n"
        } else {
            md += "| change | metric | run | baseline | run: mean ± std | baseline: mean ± std | Δ | ratio | t (ν) | p | verdict |\n"
            md += "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|\n" + rows.joined(separator: "\n") + "\n\n"
        }
        md += "### FID: each run against its neighbour in FID order\n\n"
        md += "| metric | higher FID | lower FID | higher: mean ± std | lower: mean ± std | Δ | ratio | t (ν) | p | verdict |\n"
        md += "|---|---|---|---:|---:|---:|---:|---:|---:|---|\n"
        for sampler in samplers {
            let pairs = SeedComparison.neighbours(groups, metric: fidName(sampler)) { $0.fid[sampler]?.overSeeds }
            all += pairs
            md += pairs.map { comparisonCells($0, digits: 2) }.joined(separator: "\n") + "\n"
        }
        md += "\n"
        // A pair can be both a study question and FID neighbours: list it once.
        var seen = Set<String>()
        all = all.filter { seen.insert([$0.first, $0.second].sorted().joined(separator: "\n") + "\n" + $0.metric).inserted }
        let larger = all.filter { $0.verdict == .larger }, within = all.filter { $0.verdict == .within }
        func list(_ comparisons: [SeedComparison]) -> String {
            comparisons.isEmpty ? "none" : comparisons.map { "\($0.first) vs \($0.second) (\($0.metric))" }.joined(separator: "; ")
        }
        md += "- Larger than the spread (\(larger.count) of \(all.count)): \(list(larger)).\n"
        md += "- Within the spread (\(within.count) of \(all.count)): \(list(within)).\n"
        let unavailable = all.filter { $0.verdict == .unavailable }
        if !unavailable.isEmpty {
            md += "- Not testable, a run has one seed (\(unavailable.count)): \(list(unavailable)).\n"
        }
        return md
    }

    /// The group of `run`, its seeded one when there are both.
    static func group(_ run: String, in groups: [SeedGroup]) -> SeedGroup? {
        groups.first { $0.run == run && $0.isSeeded } ?? groups.first { $0.run == run }
    }

    /// `| metric | first | second | mean ± std | mean ± std | Δ | ratio | t (ν) | p | verdict |`.
    func comparisonCells(_ c: SeedComparison, digits: Int) -> String {
        var cells = "| \(c.metric) | \(c.first) | \(c.second) | \(pm(c.firstStatistic, digits)) | \(pm(c.secondStatistic, digits)) "
        cells += "| \(signed(c.difference, digits)) | \(c.spreadRatio.map { $0.isFinite ? f($0, 2) : "∞" } ?? "—") "
        guard let test = c.test else { return cells + "| — | — | no spread (one seed) |" }
        let t = test.t.isFinite ? f(test.t, 2) : (test.t > 0 ? "∞" : "−∞")
        cells += "| \(t) (\(f(test.degreesOfFreedom, 1))) | \(pText(test.pValue).replacingOccurrences(of: "= ", with: "")) "
        return cells + (c.verdict == .larger ? "| **larger than the spread** |" : "| within the spread |")
    }

    /// The analysis over group means.
    var seedAnalysis: String {
        let groups = seedGroups
        let byFolder = entriesByFolder
        var lines: [String] = []
        let front = Self.paretoFront(of: groups).map { groups[$0].run }
        if !front.isEmpty { lines.append("- On the MSE-FID Pareto front of the means over seeds: \(front.joined(separator: ", ")).") }
        if let best = groups.min(by: { $0.mse.mean < $1.mse.mean }) {
            lines.append("- Best reconstruction: \(best.run) (test MSE \(pm(best.mse, 5))).")
        }
        for sampler in SeedAggregation.orderedSamplers(groups.flatMap(\.fid.keys)) {
            let ranked = groups.compactMap { g in g.fid[sampler].map { (g.run, $0.overSeeds) } }.sorted { $0.1.mean < $1.1.mean }
            guard let best = ranked.first else { continue }
            var line = "- Best \(fidName(sampler)): \(best.0) (\(pm(best.1, 2)))"
            if ranked.count > 1 {
                let c = SeedComparison(metric: fidName(sampler), first: ranked[1].0, ranked[1].1, second: best.0, best.1)
                line += "; the runner-up, \(c.first), is \(f(c.difference, 2)) behind: " + (c.verdict == .larger
                    ? "larger than the spread over seeds (p \(pText(c.test!.pValue)))"
                    : c.verdict == .within ? "within the spread over seeds (p \(pText(c.test!.pValue)))" : "no spread over seeds to compare with")
            }
            lines.append(line + ".")
            let noisy = groups.compactMap { g -> Double? in
                guard let fid = g.fid[sampler], let seeds = fid.overSeeds.standardDeviation, let draws = fid.drawNoiseOfSeedMean,
                      draws > 0 else { return nil }
                return seeds / draws
            }.sorted()
            if !noisy.isEmpty {
                lines.append("  Spread of the \(fidName(sampler)) over seeds against the draw noise of a seed's mean (pooled draw std / √draws): "
                    + "above it in \(noisy.filter { $0 > 1 }.count) of \(noisy.count) runs, median ratio \(f(noisy[noisy.count / 2], 1))"
                    + " (above 1: training randomness, not the sample draws, dominates the spread).")
            }
        }
        let referenced = groups.compactMap { g in
            g.members.lazy.compactMap { byFolder[$0.folderName]?.referenceMSE }.first.map { (g, $0) }
        }
        if !referenced.isEmpty {
            let above = referenced.filter { $0.0.mse.mean > $0.1 }
            lines.append("- Against the reference study's MSE: \(referenced.count - above.count) of \(referenced.count) runs' means at or below it"
                + (above.isEmpty ? "" : "; above it: " + above.map { "\($0.0.run) (\(pm($0.0.mse, 5)) vs \(f($0.1, 4)))" }.joined(separator: ", "))
                + ".")
        }
        for g in groups {
            let keys = Set(g.members.flatMap { $0.results.diagnostics?.keys.map { $0 } ?? [] }).sorted()
            let parts = keys.compactMap { key in
                g.statistic { $0.diagnostics?[key] }.map { "\(key.replacingOccurrences(of: "_", with: " ")) \(pm($0, 3))" }
            }
            if !parts.isEmpty { lines.append("- \(g.run): \(parts.joined(separator: ", ")).") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The single-seed table of every run folder, as an appendix.
    var perSeedAppendix: String {
        "## Appendix: every seed\n\nOne row per run folder (FID ± std over draws). Bold here marks the Pareto front of "
            + "the individual folders, not of the means over seeds.\n\n" + table
    }

    /// "= 0.123", or "< 0.001".
    func pText(_ p: Double) -> String { p < 0.001 ? "< 0.001" : "= " + f(p, 3) }

    func fidName(_ sampler: String) -> String {
        sampler == SeedAggregation.priorSampler ? "FID" : "FID (\(sampler))"
    }

    /// "mean ± std" over seeds, just the mean for one seed, `missing` without a value.
    func pm(_ statistic: SeedStatistic?, _ digits: Int, missing: String = "—") -> String {
        guard let statistic else { return missing }
        return f(statistic.mean, digits) + (statistic.standardDeviation.map { " ± " + f($0, digits) } ?? "")
    }

    private func signed(_ value: Double, _ digits: Int) -> String { (value > 0 ? "+" : "") + f(value, digits) }
}
