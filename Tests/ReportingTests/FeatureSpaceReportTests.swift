@testable import Evaluation
import Foundation
@testable import Reporting
import Testing

/// The notebook's two feature spaces on hand-made results: the Inception column, each run's rank under both, Kendall's
/// tau between the rankings, the Inception tradeoff plot and the CSV rows; nothing of it without Inception results.
@Suite struct FeatureSpaceReportTests {
    /// (run, LeNet FID, Inception FID or nil).
    static let fids: [(String, Double, Double?)] = [
        ("vae_std_z20", 400, 60), ("vae_conv", 300, 80), ("wae", 350, 50), ("gm_vae", 560, 250), ("vq_vae", 500, nil),
    ]

    static func report(withInception: Bool = true) -> StudyReport {
        let runs = fids.map { run, lenet, inception -> (folder: String, results: EvaluationResults) in
            var results = handMadeResults(run, mse: 0.01, fid: [lenet, lenet + 2])
            if withInception, let inception, var generation = results.generation {
                generation.fid = FIDSummary(values: [inception, inception + 1])
                generation.classes = nil
                results.samplers?["prior"]?.inception = generation
            }
            return (run, results)
        }
        return StudyReport(entries: SeededReportTests.entries(runs), title: "t", featureNetworkDescription: "LeNet")
    }

    @Test(arguments: [
        ([3.0, 1, 2], [3.0, 1, 2]),
        ([5.0, 5, 1], [2.5, 2.5, 1]),
        ([1.0, 2, 2, 2], [1, 3, 3, 3]),
    ] as [([Double], [Double])])
    func ranksShareTies(_ values: [Double], _ expected: [Double]) {
        #expect(StudyReport.ranks(values) == expected)
    }

    @Test func notebookShowsBothFeatureSpacesAndTheirAgreement() throws {
        let report = Self.report()
        let md = report.markdown(figuresLink: "figures")
        #expect(md.contains("| run | test MSE | study MSE | FID | FID (Inception) | KID |"))
        // LeNet order: vae_conv 1, wae 2, vae_std_z20 3, gm_vae 4; Inception: wae 1, vae_std_z20 2, vae_conv 3, gm_vae 4.
        let row = try #require(SeededReportTests.row(md.components(separatedBy: "## FID in two feature spaces").last!, "vae_std_z20"))
        #expect(row[2] == "3" && row[4] == "2", "\(row)")
        let vq = try #require(SeededReportTests.row(md.components(separatedBy: "## FID in two feature spaces").last!, "vq_vae"))
        #expect(vq.count == 5 && vq[3] == "—" && vq[4] == "—", "\(vq)")
        // Pairs of the 4 runs with both: concordant 4, discordant 2, so tau = 2/6.
        let tau = try #require(report.featureSpaceAgreement)
        #expect(abs(tau.tau - 1.0 / 3) < 1e-12 && tau.count == 4)
        #expect(md.contains("Kendall's τ = 0.333") && md.contains("4 runs"))
        #expect(md.contains("tradeoff-inception.png"))
        #expect(report.inceptionTradeoffPlot?.points.count == 4)
        #expect(report.tidyCSV.split(separator: "\n").filter { $0.contains(",prior,inception,fid,") }.count == 4)
        #expect(report.tidyCSV.split(separator: "\n").filter { $0.contains(",prior,inception,class_entropy,") }.isEmpty)
    }

    /// Over training seeds: the Inception FID column holds the mean ± std over seeds of the per-seed Inception FIDs.
    @Test func seededTableHasTheInceptionColumn() throws {
        let runs = [("vae_std_z20-s1", 400.0, 60.0), ("vae_std_z20-s2", 410, 64), ("wae-s1", 350, 50)].map { folder, lenet, inception in
            var results = handMadeResults(folder, mse: 0.01, fid: [lenet])
            var generation = results.generation!
            generation.fid = FIDSummary(values: [inception])
            results.samplers?["prior"]?.inception = generation
            return (folder: folder, results: results)
        }
        let md = StudyReport(entries: SeededReportTests.entries(runs), title: "t", featureNetworkDescription: "LeNet")
            .markdown(figuresLink: "f")
        let results = try #require(md.components(separatedBy: "## Results").last)
        #expect(results.contains("| FID [draws] | FID (Inception) | KID |"))
        let row = try #require(SeededReportTests.row(results, "vae_std_z20"))
        #expect(row[4].hasPrefix("405.00 ± 7.07") && row[5] == "62.00 ± 2.83", "\(row)")
    }

    /// An FID claim is tested in each feature space there are results of: LeNet's table, then Inception's.
    @Test func fidClaimsInEachFeatureSpace() throws {
        let claim = StudyClaim(id: "wae", statement: "WAE generates better", kind: .lower, metric: .fid, runs: ["wae"],
                               baseline: "vae_std_z20", reference: "FID 50 vs 64")
        var report = Self.report()
        report.claims = [claim]
        let section = try #require(report.markdown(figuresLink: "f").components(separatedBy: "## The reference study's claims").last)
        #expect(section.contains("FID (LeNet, prior): wae 351.0; vae_std_z20 401.0"), "\(section)")
        #expect(section.contains("FID claims in pytorch-fid's Inception feature space"))
        #expect(section.contains("FID (Inception, prior): wae 50.5; vae_std_z20 60.5"), "\(section)")
        report = Self.report(withInception: false)
        report.claims = [claim]
        #expect(!report.markdown(figuresLink: "f").contains("FID (Inception, prior)"))
    }

    @Test func nothingOfItWithoutInceptionResults() {
        let report = Self.report(withInception: false)
        let md = report.markdown(figuresLink: "figures")
        #expect(!report.hasInception && report.inceptionTradeoffPlot == nil)
        #expect(!md.contains("Inception)") && !md.contains("Kendall") && !md.contains("tradeoff-inception"))
        #expect(!report.tidyCSV.contains("inception"))
    }
}
