import Foundation
import Imaging
import Storage
import Testing
import TestSupport

/// `vae-eval RUN --sampler ...` as a user runs it on a tiny trained run: the gmm sampler's FID and sample sheet in
/// results.json, its cached fit next to the run, the evaluation cache keyed by the samplers, and the refusals.
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct SamplerEvaluationTests {
    static func json(_ path: String) throws -> [String: Any] { try TinyTrainedRun.json(path) }

    @Test func gmmSamplerEndToEnd() throws {
        let tiny = try TinyTrainedRun(model: "wae", trainCount: 300, testCount: 100)
        let data = tiny.data, run = tiny.run
        let base = [run, "--data", data, "--threads", "1", "--fid-samples", "200", "--fid-draws", "2", "--kid-subsets", "10"]

        // gmm only: fitted on the 300 training codes, cached next to the run; no prior metrics.
        let first = try Executables.run("vae-eval", base + ["--sampler", "gmm"])
        try #require(first.status == 0, "vae-eval failed: \(first.stderr)")
        #expect(first.stderr.contains("gmm sampler: fitting (no cached fit)"), "stderr: \(first.stderr)")
        #expect(first.stdout.contains("FID (gmm)"), "stdout: \(first.stdout)")
        var results = try Self.json(run + "/results.json")
        #expect(results["generation"] == nil && results["schemaVersion"] as? Int == 3)
        let settings = try #require(results["settings"] as? [String: Any])
        #expect(settings["samplers"] as? [String] == ["gmm"])
        let fit = try #require(settings["mixtureFit"] as? [String: Any])
        #expect(fit["components"] as? Int == 10 && fit["iterations"] as? Int == 100 && fit["seed"] as? Int == 0)
        var samplers = try #require(results["samplers"] as? [String: Any])
        #expect(Set(samplers.keys) == ["gmm"])
        let gmm = try #require(samplers["gmm"] as? [String: Any])
        #expect((gmm["fitSeconds"] as? Double ?? 0) > 0)
        #expect(gmm["samplesImage"] as? String == "samples-gmm.png")
        let fid = try #require((gmm["generation"] as? [String: Any])?["fid"] as? [String: Any])
        #expect((fid["values"] as? [Double])?.count == 2 && (fid["values"] as? [Double])?.allSatisfy { $0.isFinite && $0 > 0 } == true)
        // The same 8 x 8 grid as the prior's samples.png (written by every evaluation).
        let sheet = try PNGFile.read(contentsOf: run + "/samples-gmm.png")
        let priorSheet = try PNGFile.read(contentsOf: run + "/samples.png")
        #expect(sheet.width == priorSheet.width && sheet.height == priorSheet.height && sheet.width >= 8 * 28)
        #expect(sheet != priorSheet)
        let cache = try Self.json(run + "/sampler-gmm.json")
        #expect(cache["checkpointSHA256"] as? String == results["checkpointSHA256"] as? String)
        #expect(cache["trainingImages"] as? Int == 300)
        #expect(((cache["mixture"] as? [String: Any])?["dimension"]) as? Int == 20)

        // Same request: the stored results are reused as they are.
        let before = try Data(contentsOf: URL(fileURLWithPath: run + "/results.json"))
        let again = try Executables.run("vae-eval", base + ["--sampler", "gmm"])
        #expect(again.status == 0 && again.stderr.contains("results: cached"), "stderr: \(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: run + "/results.json")) == before)

        // Other samplers asked for: recomputed (the key holds the samplers), the gmm fit reused from its cache.
        let both = try Executables.run("vae-eval", base + ["--sampler", "prior,gmm"])
        #expect(both.status == 0 && !both.stderr.contains("results: cached"), "stderr: \(both.stderr)")
        #expect(both.stderr.contains("gmm sampler: cached fit"), "stderr: \(both.stderr)")
        results = try Self.json(run + "/results.json")
        samplers = try #require(results["samplers"] as? [String: Any])
        #expect(Set(samplers.keys) == ["prior", "gmm"])
        let prior = try #require(samplers["prior"] as? [String: Any])
        #expect(prior["generation"] != nil && results["generation"] == nil, "the prior's metrics are stored once")
        #expect(prior["fitSeconds"] as? Double == 0 && prior["samplesImage"] as? String == "samples.png")
        // "all" is the same request for a WAE.
        let all = try Executables.run("vae-eval", base + ["--sampler", "all"])
        #expect(all.status == 0 && all.stderr.contains("results: cached"), "stderr: \(all.stderr)")

        // `vae-eval sample --sampler gmm` draws from the cached fit (seed 0, as the evaluation's) without refitting.
        let npy = tiny.folder.path + "/gmm.npy"
        let sample = try Executables.run("vae-eval", ["sample", run, "--count", "30", "--out", npy, "--sampler", "gmm",
                                                      "--data", data, "--threads", "1"])
        #expect(sample.status == 0 && sample.stderr.contains("gmm sampler: cached fit"), "stderr: \(sample.stderr)")
        #expect((try Data(contentsOf: URL(fileURLWithPath: npy))).count > 30 * 784)
        let badSampler = try Executables.run("vae-eval", ["sample", run, "--count", "3", "--out", npy, "--sampler", "flow"])
        #expect(badSampler.status != 0 && badSampler.stderr.contains("--sampler must be one of"), "\(badSampler.stderr)")

        // A corrupt cached fit is refitted with a log line, not a crash.
        try Data("{\"format\": ".utf8).write(to: URL(fileURLWithPath: run + "/sampler-gmm.json"))
        let refit = try Executables.run("vae-eval", base + ["--sampler", "gmm", "--force"])
        #expect(refit.status == 0, "stderr: \(refit.stderr)")
        #expect(refit.stderr.contains("unreadable or corrupt"), "stderr: \(refit.stderr)")
        #expect((try Self.json(run + "/sampler-gmm.json"))["mixture"] != nil)
    }

    /// vq_vae's learned code prior as a sampler: refused with a pointer to `vae-train prior` while the run has no
    /// prior, skipped by `all`; once trained it is evaluated, and retraining it invalidates the stored results.
    @Test func learnedSamplerEndToEnd() throws {
        let tiny = try TinyTrainedRun(model: "vq_vae", trainCount: 64, testCount: 16, batchSize: 32)
        let data = tiny.data, run = tiny.run
        let base = [run, "--data", data, "--threads", "1", "--fid-samples", "40", "--fid-draws", "2", "--kid-subsets", "5",
                    "--kid-subset-size", "10"]

        let missing = try Executables.run("vae-eval", base + ["--sampler", "learned"])
        let errors = missing.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(missing.status != 0 && errors.count == 1 && errors.first?.contains("vae-train prior") == true, "\(missing.stderr)")

        let withoutPrior = try Executables.run("vae-eval", base + ["--sampler", "all"])
        try #require(withoutPrior.status == 0, "stderr: \(withoutPrior.stderr)")
        #expect(withoutPrior.stderr.contains("no learned code prior"), "stderr: \(withoutPrior.stderr)")
        #expect(Set(((try Self.json(run + "/results.json"))["samplers"] as? [String: Any] ?? [:]).keys) == ["prior"])

        func trainPrior(seed: Int) throws {
            let stage = try Executables.run("vae-train", ["prior", run, "--data", data, "--threads", "1", "--epochs", "1",
                                                          "--batch-size", "16", "--hidden-size", "64", "--seed", String(seed)])
            try #require(stage.status == 0, "vae-train prior failed: \(stage.stderr)")
        }
        try trainPrior(seed: 1)
        let first = try Executables.run("vae-eval", base + ["--sampler", "all"])
        try #require(first.status == 0, "stderr: \(first.stderr)")
        let results = try Self.json(run + "/results.json")
        let samplers = try #require(results["samplers"] as? [String: Any])
        #expect(Set(samplers.keys) == ["prior", "learned"])
        let learned = try #require(samplers["learned"] as? [String: Any])
        #expect((learned["fitSeconds"] as? Double ?? 0) > 0 && learned["samplesImage"] as? String == "samples-learned.png")
        let fid = try #require((learned["generation"] as? [String: Any])?["fid"] as? [String: Any])
        #expect((fid["values"] as? [Double])?.count == 2 && (fid["values"] as? [Double])?.allSatisfy { $0.isFinite && $0 > 0 } == true)
        let settings = try #require(results["settings"] as? [String: Any])
        let priorBytes = try Data(contentsOf: URL(fileURLWithPath: run + "/code-prior.safetensors"))
        #expect(settings["codePriorSHA256"] as? String == SHA256.hexDigest(of: [UInt8](priorBytes)))
        #expect(try PNGFile.read(contentsOf: run + "/samples-learned.png") != (try PNGFile.read(contentsOf: run + "/samples.png")))

        let again = try Executables.run("vae-eval", base + ["--sampler", "all"])
        #expect(again.status == 0 && again.stderr.contains("results: cached"), "stderr: \(again.stderr)")
        // `vae-eval sample --sampler learned` exports the learned prior's samples; gmm is refused for vq_vae.
        let npy = tiny.folder.path + "/learned.npy"
        let sample = try Executables.run("vae-eval", ["sample", run, "--count", "20", "--out", npy, "--sampler", "learned", "--threads", "1"])
        #expect(sample.status == 0 && sample.stdout.contains("learned sampler"), "stderr: \(sample.stderr)")
        #expect((try Data(contentsOf: URL(fileURLWithPath: npy))).count > 20 * 784)
        let gmm = try Executables.run("vae-eval", ["sample", run, "--count", "20", "--out", tiny.folder.path + "/gmm.npy", "--sampler", "gmm", "--data", data])
        #expect(gmm.status != 0 && gmm.stderr.contains("does not apply"), "stderr: \(gmm.stderr)")
        try trainPrior(seed: 2)
        let retrained = try Executables.run("vae-eval", base + ["--sampler", "all"])
        #expect(retrained.status == 0 && !retrained.stderr.contains("results: cached"), "stderr: \(retrained.stderr)")
    }

    @Test func samplerRequestsThatCannotBeMetAreOneLineErrors() throws {
        let tiny = try TinyTrainedRun(model: "vq_vae", trainCount: 64, testCount: 16, batchSize: 32)
        let data = tiny.data, run = tiny.run
        for (arguments, message) in [
            (["--sampler", "gmm"], "the gmm sampler does not apply to run vq_vae"),
            (["--sampler", "prior", "--sampler", "flow"], "unknown sampler 'flow'"),
            (["--sampler", "gmm", "--no-fid"], "drop --no-fid"),
        ] {
            let result = try Executables.run("vae-eval", [run, "--data", data, "--threads", "1"] + arguments)
            let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
            #expect(result.status != 0)
            #expect(errors.count == 1 && errors[0].contains(message), "stderr: \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"))
        }
        let refusal = try Executables.run("vae-eval", [run, "--data", data, "--sampler", "gmm"])
        #expect(refusal.stderr.contains("applicable samplers: prior"), "stderr: \(refusal.stderr)")
        #expect(!FileManager.default.fileExists(atPath: run + "/sampler-gmm.json"))
    }
}
