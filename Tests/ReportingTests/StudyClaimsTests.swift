import Foundation
@testable import Evaluation
@testable import Reporting
import Testing

/// The claims table's verdicts follow from the per-seed values: synthetic statistics with known answers.
@Suite struct StudyClaimsTests {
    static func claim(_ kind: StudyClaim.Kind, runs: [String], baseline: String? = nil, among: [String]? = nil,
                      tolerance: Double? = nil) -> StudyClaim {
        StudyClaim(id: "t", statement: "s", kind: kind, metric: .mse, runs: runs, baseline: baseline, among: among,
                   tolerance: tolerance, reference: "r")
    }

    /// Three seeds around each centre with spread 0.1 (so centres 1 apart differ significantly, 0.05 apart do not).
    static func verdict(_ claim: StudyClaim, _ centres: [String: Double], seeds: Int = 3) -> ClaimVerdict {
        StudyClaims.check(claim) { run, _ in
            centres[run].map { c in SeedStatistic(values: [c - 0.1, c, c + 0.1].prefix(seeds).map { $0 }) }
        }.verdict
    }

    @Test(arguments: [
        (StudyClaim.Kind.lower, 9.0, ClaimVerdict.confirmed), (.lower, 10.05, .notShown), (.lower, 11, .contradicted),
        (.higher, 11, .confirmed), (.higher, 9.95, .notShown), (.higher, 9, .contradicted),
        (.notLower, 11, .confirmed), (.notLower, 10.02, .confirmed), (.notLower, 9, .contradicted),
        (.slightlyLower, 9.5, .confirmed), (.slightlyLower, 10.05, .notShown), (.slightlyLower, 7, .contradicted),
        (.slightlyLower, 11, .contradicted),
    ])
    func pairwiseClaims(kind: StudyClaim.Kind, run: Double, expected: ClaimVerdict) {
        let c = Self.claim(kind, runs: ["a"], baseline: "base", tolerance: 0.1)
        #expect(Self.verdict(c, ["a": run, "base": 10]) == expected, "\(kind) with a = \(run)")
    }

    @Test func orderingClaims() {
        let increasing = Self.claim(.increasing, runs: ["a", "b", "c"])
        #expect(Self.verdict(increasing, ["a": 1, "b": 2, "c": 3]) == .confirmed)
        #expect(Self.verdict(increasing, ["a": 1, "b": 2, "c": 2.02]) == .notShown)
        #expect(Self.verdict(increasing, ["a": 1, "b": 3, "c": 2]) == .contradicted)
        let lowest = Self.claim(.lowest, runs: ["a", "b"], among: ["c", "d"])
        #expect(Self.verdict(lowest, ["a": 1, "b": 1.5, "c": 3, "d": 4]) == .confirmed)
        #expect(Self.verdict(lowest, ["a": 1, "b": 3.02, "c": 3, "d": 4]) == .notShown)
        #expect(Self.verdict(lowest, ["a": 1, "b": 5, "c": 3, "d": 4]) == .contradicted)
    }

    /// One seed per run gives no spread: a difference is never confirmed and "no better" is not shown; a run without
    /// results, or a claim about longer training, is not measured.
    @Test func oneSeedAndMissingRuns() {
        let lower = Self.claim(.lower, runs: ["a"], baseline: "base")
        #expect(Self.verdict(lower, ["a": 1, "base": 10], seeds: 1) == .notShown)
        #expect(Self.verdict(Self.claim(.notLower, runs: ["a"], baseline: "base"), ["a": 12, "base": 10], seeds: 1) == .notShown)
        #expect(Self.verdict(lower, ["base": 10]) == .notMeasured)
        #expect(Self.verdict(Self.claim(.moreEpochs, runs: ["a"]), ["a": 1]) == .notMeasured)
        let check = StudyClaims.check(lower) { run, _ in SeedStatistic(values: run == "a" ? [1, 1.1, 0.9] : [10, 10.2, 9.8]) }
        #expect(check.tests.count == 1 && check.tests[0].hasPrefix("a vs base: -9") && check.tests[0].contains("p = "))
        let table = StudyClaims.markdown([check])
        #expect(table.contains("| s | r | test MSE: a 1.00000 ± 0.10000; base 10.00000 ± 0.20000 |") && table.contains("**confirmed**"), "\(table)")
    }

    /// The shipped claims file reads, and every run it names is a run of the study file.
    @Test func shippedClaimsNameStudyRuns() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let claims = try StudyClaims.load(contentsOf: root + "/fixtures/claims.json")
        #expect(claims.count >= 10 && Set(claims.map(\.id)).count == claims.count)
        let study = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/fixtures/study.json"))) as! [String: Any]
        let runs = Set((study["runs"] as! [[String: Any]]).map { $0["name"] as! String })
        for claim in claims {
            let named = claim.runs + [claim.baseline].compactMap { $0 } + (claim.among ?? [])
            #expect(named.allSatisfy(runs.contains), "\(claim.id) names \(named.filter { !runs.contains($0) })")
        }
        #expect(throws: (any Error).self) { try StudyClaims.load(contentsOf: root + "/fixtures/study.json") }
    }
}

/// The notebook's claims and latent sections, from hand-made results of three seeds.
@Suite struct ClaimsSectionTests {
    @Test func notebookStatesEachClaimAndTheLatentTable() throws {
        func results(_ folder: String, mse: Double, fid: Double, ll: Double?, active: Int) -> (folder: String, results: EvaluationResults) {
            var r = handMadeResults(folder, mse: mse, fid: [fid, fid + 1])
            r.latent = LatentResults(activeUnits: active, latentSize: 20, activityThreshold: 0.01,
                                     unitVariances: [Double](repeating: 0.5, count: 20),
                                     logLikelihood: ll.map { LogLikelihoodEstimate(meanNats: $0, standardError: 0.5, images: 100, samples: 50, seed: 0) })
            return (folder, r)
        }
        var runs: [(folder: String, results: EvaluationResults)] = []
        for seed in 1...3 {
            let d = Double(seed)
            runs.append(results("vae_std_z20-s\(seed)", mse: 0.0100 + 0.0001 * d, fid: 400 + d, ll: -90 - d, active: 15))
            runs.append(results("vae_std_z20_res-s\(seed)", mse: 0.0101 + 0.0001 * d, fid: 380 + d, ll: -88 - d, active: 16))
        }
        let claims = [
            StudyClaim(id: "res", statement: "Residual connections improve FID", kind: .lower, metric: .fid,
                       runs: ["vae_std_z20_res"], baseline: "vae_std_z20", reference: "64.45 and below"),
            StudyClaim(id: "vq", statement: "VQ-VAE needs more epochs", kind: .moreEpochs, metric: .fid, runs: ["vq_vae"],
                       reference: "unstable"),
        ]
        let report = StudyReport(entries: SeededReportTests.entries(runs), title: "c", featureNetworkDescription: "L", claims: claims)
        let md = report.markdown(figuresLink: "f")
        #expect(md.contains("## The reference study's claims"))
        let residual = try #require(md.split(separator: "\n").first { $0.hasPrefix("| Residual connections improve FID |") })
        #expect(residual.hasSuffix("| **confirmed** |") && residual.contains("vae_std_z20_res 382.5 ± 1.0"), "\(residual)")
        #expect(md.contains("| VQ-VAE needs more epochs | unstable |") && md.contains("**not measured**"))
        #expect(md.contains("1 confirmed, 1 not measured (of the claims file's 2)."))
        let latent = try #require(md.split(separator: "\n").first { $0.hasPrefix("| vae_std_z20_res | 3 |") && $0.contains("of 20") })
        #expect(latent.contains("−90.00 ± 1.00") || latent.contains("-90.00 ± 1.00"), "\(latent)")
        #expect(md.contains("k = 50 samples per image on the first 100 test images"))
        #expect(!StudyReport(entries: SeededReportTests.entries(runs), title: "c", featureNetworkDescription: "L")
            .markdown(figuresLink: "f").contains("## The reference study's claims"))
    }
}

/// The tidy CSV: one observation per row, a header, seeds and samplers in their columns.
@Suite struct TidyCSVTests {
    @Test func oneObservationPerRow() throws {
        let runs = [("vae_std_z20-s1", handMadeResults("vae_std_z20-s1", mse: 0.01, fid: [400, 402])),
                    ("vae_std_z20-s2", handMadeResults("vae_std_z20-s2", mse: 0.02, fid: [410])),
                    ("wae", handMadeResults("wae", mse: 0.009, fid: nil))]
        let csv = StudyReport(entries: SeededReportTests.entries(runs), title: "t", featureNetworkDescription: "L").tidyCSV
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows[0] == ["run", "seed", "folder", "sampler", "features", "metric", "value"])
        #expect(rows.dropFirst().allSatisfy { $0.count == 7 })
        #expect(rows.contains(["vae_std_z20", "1", "vae_std_z20-s1", "prior", "lenet", "fid", "401.0"]))
        #expect(rows.contains(["vae_std_z20", "2", "vae_std_z20-s2", "", "", "test_mse", "0.02"]))
        #expect(rows.contains(["wae", "", "wae", "", "", "test_mse", "0.009"]))
        // One draw: no draw spread; no generation metrics for wae.
        #expect(!rows.contains { $0[2] == "vae_std_z20-s2" && $0[5] == "fid_draw_std" })
        #expect(rows.contains { $0[2] == "vae_std_z20-s1" && $0[5] == "fid_draw_std" })
        #expect(!rows.contains { $0[0] == "wae" && $0[5] == "fid" })
        #expect(StudyReport.csvField("a,b") == "\"a,b\"" && StudyReport.csvField("q\"") == "\"q\"\"\"")
    }
}

/// Imported checkpoints are named as such in the notebook.
@Suite struct ImportedRunsNoteTests {
    @Test func importedRunsAreMarked() {
        var entries = SeededReportTests.entries([("vae_std_z20", handMadeResults("vae_std_z20", mse: 0.01, fid: [400])),
                                                 ("torch_vae", handMadeResults("torch_vae", mse: 0.011, fid: [390]))])
        #expect(!StudyReport(entries: entries, title: "t", featureNetworkDescription: "L").markdown(figuresLink: "f")
            .contains("Imported checkpoints"))
        entries[1].imported = (file: "examples_vae.pt", sha256: String(repeating: "ab", count: 32))
        let md = StudyReport(entries: entries, title: "t", featureNetworkDescription: "L").markdown(figuresLink: "f")
        #expect(md.contains("Imported checkpoints (trained elsewhere and read by `vae-eval import`; their training time and curves are not ours): torch_vae from `examples_vae.pt` (SHA-256 `abababababab…`)."), "\(md)")
    }
}
