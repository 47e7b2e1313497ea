import Foundation
import Imaging
import Testing
import TestSupport

/// `vae-eval report` on two tiny runs: the notebook's table has both runs with their numbers, the sampler table
/// their FID with each sampler, and every figure it links exists and decodes.
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct ReportTests {
    @Test func reportOnTwoTinyRuns() throws {
        let folder = TemporaryFolder()
        let data = folder.path + "/mnist", out = folder.path + "/out"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try TinyMNIST.write(to: data, trainCount: 300, testCount: 100)
        for run in ["vae_std_z20", "beta_vae_4"] {
            let train = try Executables.run("vae-train", ["--model", run, "--epochs", "1", "--batch-size", "50",
                                                          "--data", data, "--out", out, "--threads", "1"])
            #expect(train.status == 0, "\(run): \(train.stderr)")
        }
        let notebook = folder.path + "/notebooks/study-results.md"
        let arguments = [out + "/runs", "--data", data, "--notebook", notebook, "--fid-samples", "100", "--fid-draws", "2",
                         "--kid-subsets", "5", "--kid-subset-size", "50", "--threads", "1", "--cache-dir", folder.path + "/cache"]
        let report = try Executables.run("vae-eval", ["report"] + arguments)
        #expect(report.status == 0, "report failed: \(report.stderr)")
        let text = try String(contentsOfFile: notebook, encoding: .utf8)
        // The tidy CSV beside it, and the claims table from the shipped claims file.
        let csv = try String(contentsOfFile: folder.path + "/notebooks/study-results.csv", encoding: .utf8)
        #expect(csv.hasPrefix("run,seed,folder,sampler,features,metric,value\n") && csv.contains("\nvae_std_z20,,vae_std_z20,prior,lenet,fid,"))
        #expect(text.contains("## The reference study's claims") && text.contains("| Higher beta gives a worse MSE |"))

        // One table row per run, with the MSE from its results.json and the study's reference MSE.
        for (run, reference) in [("vae_std_z20", "0.0144"), ("beta_vae_4", "0.0272")] {
            let results = try TinyTrainedRun.json(out + "/runs/\(run)/results.json")
            let mse = (results["reconstruction"] as! [String: Any])["meanSquaredError"] as! Double
            let row = text.split(separator: "\n").first { $0.hasPrefix("| \(run) |") || $0.hasPrefix("| **\(run)** |") }
            let cells = try #require(row, "no table row for \(run)").split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(cells[1] == String(format: "%.5f", mse))
            #expect(cells[2] == reference)
            #expect(cells[3].contains("±"))
        }
        #expect(text.contains("On the MSE-FID Pareto front"))

        // Every sampler that applies was evaluated: a FID column each and the gmm fit's seconds, per run.
        let samplerHeader = "| run | FID (prior) | FID (gmm) | gmm fit (s) |"
        let samplerSection = try #require(text.components(separatedBy: "## Samplers\n\n").dropFirst().first, "no Samplers section")
        #expect(samplerSection.hasPrefix(samplerHeader), "\(samplerSection.prefix(200))")
        for run in ["vae_std_z20", "beta_vae_4"] {
            let row = try #require(samplerSection.split(separator: "\n").first { $0.hasPrefix("| \(run) |") })
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(cells.count == 4 && cells[1].contains("±") && cells[2].contains("±") && Double(cells[3]) != nil, "\(row)")
            #expect(text.contains("(study-results/\(run)-samples-gmm.png)"))
        }

        // Every linked image exists; PNGs decode.
        let links = text.components(separatedBy: "](").dropFirst().map { $0.prefix { $0 != ")" } }
        #expect(links.count >= 10)
        let base = URL(fileURLWithPath: notebook).deletingLastPathComponent()
        for link in links {
            let path = base.appendingPathComponent(String(link)).path
            #expect(FileManager.default.fileExists(atPath: path), "missing \(link)")
            if link.hasSuffix(".png") { _ = try PNGFile.read(contentsOf: path) }
        }
        let pdf = try Data(contentsOf: base.appendingPathComponent("study-results/tradeoff.pdf"))
        #expect(pdf.starts(with: Data("%PDF".utf8)))

        // A second report reuses every run's cached results.
        let again = try Executables.run("vae-eval", ["report"] + arguments)
        #expect(again.status == 0)
        #expect(again.stderr.contains("vae_std_z20: cached results") && again.stderr.contains("beta_vae_4: cached results"))
    }
}
