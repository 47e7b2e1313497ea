import Evaluation
import Foundation
import Plotting

/// The study in both feature spaces: LeNet's FID (the default) beside pytorch-fid's Inception FID, each run's rank
/// under each, and how far the two rankings agree.
extension StudyReport {
    /// The prior samples' FID of `entry` in `kind`'s feature space.
    static func priorFID(_ entry: ReportEntry, _ kind: FeatureNetworkKind) -> FIDSummary? {
        entry.results.samplers?[SamplerKind.prior.rawValue]?.metrics(kind)?.fid
    }

    /// Whether any run has Inception metrics of its prior samples.
    public var hasInception: Bool { entries.contains { Self.priorFID($0, .inception) != nil } }

    /// Rank (1: lowest) of each of `values` among them; tied values share their mean rank.
    static func ranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && values[order[end + 1]] == values[order[start]] { end += 1 }
            for i in start...end { ranks[order[i]] = Double(start + end) / 2 + 1 }
            start = end + 1
        }
        return ranks
    }

    /// Kendall's tau between the runs' LeNet and Inception FIDs (prior samples, runs with both); nil with fewer than
    /// two such runs.
    public var featureSpaceAgreement: KendallTau? {
        let both = entries.compactMap { e in Self.priorFID(e, .lenet).flatMap { l in Self.priorFID(e, .inception).map { (l.mean, $0.mean) } } }
        return KendallTau(both.map(\.0), both.map(\.1))
    }

    /// The table of both feature spaces with ranks and Kendall's tau; nil without Inception results.
    var featureSpaceSection: String? {
        guard hasInception else { return nil }
        let both = entries.filter { Self.priorFID($0, .lenet) != nil && Self.priorFID($0, .inception) != nil }
        let lenetRanks = Self.ranks(both.map { Self.priorFID($0, .lenet)!.mean })
        let inceptionRanks = Self.ranks(both.map { Self.priorFID($0, .inception)!.mean })
        let rankOf = Dictionary(uniqueKeysWithValues: both.enumerated().map { ($1.folder.name, (lenetRanks[$0], inceptionRanks[$0])) })
        func rank(_ r: Double?) -> String { r.map { $0 == $0.rounded() ? String(Int($0)) : f($0, 1) } ?? "—" }
        func fid(_ s: FIDSummary?) -> String { s.map { "\(f($0.mean, 2)) ± \(f($0.standardDeviation, 2))" } ?? "—" }
        var md = "## FID in two feature spaces\n\n"
        if let g = entries.lazy.compactMap({ $0.results.samplers?[SamplerKind.prior.rawValue]?.inception }).first {
            md += "Inception FID: pytorch-fid's Inception-v3 pool3 features (2048-d; weights SHA-256 "
            md += "`\(g.featureNetworkSHA256.prefix(16))…`), \(g.settings.samples) prior samples against the \(g.referenceCount) "
            md += "test images, \(g.settings.draws) draws (mean ± std): the feature space of the reference study's and papers' FIDs. "
            md += "LeNet FID: the shipped MNIST classifier, as in the tables above. Rank 1: lowest FID of the runs with both.\n\n"
        }
        md += "| run | FID (LeNet) | rank (LeNet) | FID (Inception) | rank (Inception) |\n|---|---:|---:|---:|---:|\n"
        for e in entries {
            let ranks = rankOf[e.folder.name]
            md += "| \(e.folder.name) | \(fid(Self.priorFID(e, .lenet))) | \(rank(ranks?.0)) | \(fid(Self.priorFID(e, .inception))) "
            md += "| \(rank(ranks?.1)) |\n"
        }
        md += "\n"
        if let tau = featureSpaceAgreement {
            md += "Rank agreement: Kendall's τ = \(f(tau.tau, 3)) (p = \(String(format: "%.3g", tau.pValue)), \(tau.count) runs). "
            md += "τ is the share of run pairs that the two feature spaces order the same way minus the share they order "
            md += "oppositely (1: the same ranking, 0: unrelated, −1: reversed); p is the chance of a |τ| at least this large "
            md += "if the two rankings were independent.\n"
        } else {
            md += "Rank agreement: needs at least two runs with both FIDs.\n"
        }
        return md
    }

    /// The MSE-FID tradeoff with Inception FIDs (one point per run folder); nil without Inception results.
    public var inceptionTradeoffPlot: TradeoffPlot? {
        guard hasInception else { return nil }
        let points = entries.compactMap { e -> ScatterPoint? in
            guard let fid = Self.priorFID(e, .inception) else { return nil }
            return ScatterPoint(label: e.folder.name, x: e.mse, y: fid.mean, yError: fid.standardDeviation)
        }
        return TradeoffPlot(title: "Reconstruction vs generation (FID with pytorch-fid's Inception-v3)",
                            subtitle: "test MSE (z = mean of q(z|x)) against Inception FID of prior samples; error bars: std over FID draws; lower is better on both axes",
                            xLabel: "test reconstruction MSE (per pixel, [0, 1] scale)", yLabel: "FID (Inception-v3 pool3 features)",
                            points: points)
    }

    /// A run's Inception FID of prior samples over its seeds, for the claims of the FID metric.
    func inceptionClaimStatistic(_ run: String, _ metric: StudyClaim.Metric) -> SeedStatistic? {
        guard metric == .fid else { return claimStatistic(run, metric) }
        return Self.group(run, in: seedGroups)?.statistic { $0.samplers?[SamplerKind.prior.rawValue]?.inception?.fid.mean }
    }
}
