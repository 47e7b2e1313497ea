@testable import Evaluation
import Foundation
import Models
@testable import Reporting
import Testing
import Training

/// The notebook and plots of `StudyReport` on hand-made seeded and single-seed results.
@Suite struct SeededReportTests {
    static func entries(_ runs: [(folder: String, results: EvaluationResults)], folder: String = "/nonexistent/runs") -> [ReportEntry] {
        runs.map { run in
            let history = (1...2).map { EpochSummary(epoch: $0, loss: 100 / Double($0), reconstruction: 80, regularizer: 20, seconds: 5) }
            return ReportEntry(folder: RunFolder(path: folder + "/" + run.folder), results: run.results,
                               training: TrainingRecord(runName: run.folder, epochs: 2, batchSize: 10, learningRate: 1e-3,
                                                        seed: 1, threads: 1, dataChecksum: "00", history: history),
                               referenceMSE: run.folder.hasPrefix("vae_std_z20-") ? 0.0144 : nil)
        }
    }

    /// The runs of `SeedAggregationTests` plus three seeds of beta_vae_4, far from vae_std_z20 on both axes.
    static let runs = SeedAggregationTests.runs + [
        ("beta_vae_4-s1", handMadeResults("beta_vae_4-s1", mse: 0.0200, fid: [550, 551])),
        ("beta_vae_4-s2", handMadeResults("beta_vae_4-s2", mse: 0.0201, fid: [553, 552])),
        ("beta_vae_4-s3", handMadeResults("beta_vae_4-s3", mse: 0.0199, fid: [548, 549])),
    ]

    static func row(_ markdown: String, _ run: String) -> [String]? {
        markdown.split(separator: "\n").first { $0.hasPrefix("| \(run) |") || $0.hasPrefix("| **\(run)** |") }
            .map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    /// Each run at the sampler with its lowest mean FID; no such plot without a sampler besides the prior.
    @Test func bestSamplerPlotPicksTheLowestMeanFIDPerRun() throws {
        #expect(StudyReport(entries: Self.entries(Self.runs), title: "t", featureNetworkDescription: "L").bestSamplerTradeoffPlot == nil)
        func withGMM(_ run: (String, EvaluationResults), _ draws: [Double]) -> (folder: String, results: EvaluationResults) {
            var results = run.1
            var generation = results.generation!
            generation.fid = FIDSummary(values: draws)
            results.samplers = ["prior": SamplerResults(generation: results.generation!, fitSeconds: 0, samplesImage: "samples.png"),
                                "gmm": SamplerResults(generation: generation, fitSeconds: 1, samplesImage: "samples-gmm.png")]
            return (run.0, results)
        }
        // beta_vae_4's gmm FID (~150) is below its prior FID (~550); vae_std_z20's gmm FID (~900) is above its prior's.
        let runs = Self.runs.map { run -> (folder: String, results: EvaluationResults) in
            if run.0.hasPrefix("beta_vae_4-") { return withGMM(run, [150, 152]) }
            if run.0.hasPrefix("vae_std_z20-") { return withGMM(run, [900, 901]) }
            return (run.0, run.1)
        }
        let plot = try #require(StudyReport(entries: Self.entries(runs), title: "t", featureNetworkDescription: "L").bestSamplerTradeoffPlot)
        let beta = try #require(plot.points.first { $0.label.hasPrefix("beta_vae_4") })
        #expect(beta.label == "beta_vae_4 (gmm)" && abs(beta.y - 151) < 1e-9)
        let std = try #require(plot.points.first { $0.label.hasPrefix("vae_std_z20 ") })
        #expect(std.label == "vae_std_z20 (prior)" && abs(std.y - 400) < 1e-9)
    }

    @Test func seededNotebookHasOneRowPerRunAndTheComparisons() throws {
        let report = StudyReport(entries: Self.entries(Self.runs), title: "seeds", featureNetworkDescription: "LeNet")
        #expect(report.hasSeededRuns)
        let md = report.markdown(figuresLink: "figures")
        let results = try #require(md.components(separatedBy: "## Results").last?.components(separatedBy: "## Differences").first)

        let std = try #require(Self.row(results, "vae_std_z20"))
        #expect(Array(std[0...4]) == ["vae_std_z20", "3", "0.01100 ± 0.00100", "0.0144", "400.00 ± 10.00 [2.83]"])
        #expect(std.last == "10.0 ± 0.0")  // training seconds: 2 epochs of 5 s in every seed
        let vq = try #require(Self.row(results, "**vq_vae**"))
        #expect(vq[1] == "1" && vq[2] == "0.00300" && vq[4] == "562.50 [3.54]")
        #expect(Self.row(results, "**vae_std_z20_res**") != nil, "on the front of the means")
        #expect(Self.row(results, "vae_std_z20-s1") == nil, "per-seed rows belong in the appendix")

        // The study's pairs, each with a verdict and its numbers.
        let section = try #require(md.components(separatedBy: "## Differences between runs against the spread over seeds").last?
            .components(separatedBy: "## Analysis").first)
        let lines = section.split(separator: "\n").map(String.init)
        let residualFID = try #require(lines.first { $0.hasPrefix("| residual connections | FID |") })
        #expect(residualFID.contains("| 382.00 ± 2.83 | 400.00 ± 10.00 | -18.00 |") && residualFID.hasSuffix("| within the spread |"))
        let beta4 = lines.filter { $0.hasPrefix("| β = 4 |") }
        #expect(beta4.count == 2 && beta4.allSatisfy { $0.hasSuffix("| **larger than the spread** |") })
        // wae has one seed (and no FID): its MSE row says there is no spread.
        let waeMSE = try #require(lines.first { $0.hasPrefix("| WAE (MMD penalty instead of KL) | test MSE |") })
        #expect(waeMSE.hasSuffix("| no spread (one seed) |"))
        // Neighbours in FID order: res < std < beta_vae_4 < vq_vae.
        #expect(lines.contains { $0.hasPrefix("| FID | vae_std_z20 | vae_std_z20_res |") })
        #expect(lines.contains { $0.hasPrefix("| FID | beta_vae_4 | vae_std_z20 |") && $0.hasSuffix("| **larger than the spread** |") })
        #expect(lines.contains { $0.hasPrefix("| FID | vq_vae | beta_vae_4 |") && $0.hasSuffix("| no spread (one seed) |") })
        // β = 4 on both metrics; its FID pair is also a neighbour pair, listed once.
        #expect(section.contains("- Larger than the spread (2 of 6): beta_vae_4 vs vae_std_z20 (test MSE); beta_vae_4 vs vae_std_z20 (FID)."))

        // Per-seed rows in the appendix, seeds in order.
        let appendix = try #require(md.components(separatedBy: "## Appendix: every seed").last)
        #expect(Self.row(appendix, "vae_std_z20-s1") != nil || Self.row(appendix, "**vae_std_z20-s1**") != nil)
        #expect(md.contains("- Seeds: each run trained with training seeds 1, 2, 3"))
    }

    @Test func singleSeedNotebookSaysNoSpreadIsAvailable() throws {
        let runs = [("vae_std_z20", handMadeResults("vae_std_z20", mse: 0.01, fid: [400, 402])),
                    ("vae_std_z20_res", handMadeResults("vae_std_z20_res", mse: 0.011, fid: [390, 391]))]
        let report = StudyReport(entries: Self.entries(runs), title: "one seed", featureNetworkDescription: "LeNet")
        #expect(!report.hasSeededRuns)
        let md = report.markdown(figuresLink: "figures")
        #expect(md.contains("No spread over training seeds is available"))
        // The single-seed table as before: FID mean ± std over draws, no n column, no appendix.
        let row = try #require(Self.row(md, "vae_std_z20"))
        #expect(row[1] == "0.01000" && row[3] == "401.00 ± 1.41")
        #expect(!md.contains("## Appendix"))
    }

    @Test func writesThePlotsWithErrorBarsOverSeeds() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("seeded-report-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let report = StudyReport(entries: Self.entries(Self.runs), title: "seeds", featureNetworkDescription: "LeNet")
        let plot = report.seedTradeoffPlot
        let std = try #require(plot.points.first { $0.label == "vae_std_z20" })
        #expect(close(std.x, 0.011) && close(std.xError, 0.001) && close(std.y, 400) && close(std.yError, 10))
        #expect(plot.points.first { $0.label == "vq_vae" }?.yError == nil)
        #expect(plot.points.count == 4, "wae has no FID")
        let curves = report.seedTrainingCurves
        #expect(curves.panels.count == 1 && curves.panels[0].series.count == 5 && curves.panels[0].series[0].y == [100, 50])
        try report.write(notebookPath: folder + "/study-results.md", figures: folder + "/figures")
        for file in ["tradeoff.png", "tradeoff.svg", "tradeoff.pdf", "training-curves.png"] {
            #expect(FileManager.default.fileExists(atPath: folder + "/figures/" + file), "\(file)")
        }
    }

    @Test func runFoldersKeepTheSeedsOfARunTogetherInStudyOrder() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("seeded-runs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let names = ["zzz", "vae_std_z20_res-s1", "vae_std_z20-s10", "aaa-s1", "vae_std_z20-s2", "vae_std_z20", "no_checkpoint-s1"]
        for name in names {
            try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
            if name != "no_checkpoint-s1" {
                _ = FileManager.default.createFile(atPath: root + "/" + name + "/checkpoint.safetensors", contents: Data())
            }
        }
        let study = try Study.load(from: Study.defaultPath(from: URL(fileURLWithPath: #filePath).deletingLastPathComponent().path))
        let job = ReportJob(runsDirectory: root, notebookPath: root + "/study-results.md", study: study)
        #expect(try job.runFolders().map(\.name)
                == ["vae_std_z20", "vae_std_z20-s2", "vae_std_z20-s10", "vae_std_z20_res-s1", "aaa-s1", "zzz"])
    }
}
