import Foundation
import Testing
import TestSupport

/// `vae-eval RUN --log-likelihood`: the importance-weighted estimate and the active units land in results.json, an
/// evaluation that does not ask for the estimate keeps it, and other settings recompute it.
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct LatentEvaluationTests {
    @Test func logLikelihoodAndActiveUnitsAreStoredAndKept() throws {
        let tiny = try TinyTrainedRun(model: "vae_std_z20", trainCount: 200, testCount: 100)
        let base = [tiny.run, "--data", tiny.data, "--threads", "1", "--no-fid"]
        let first = try Executables.run("vae-eval", base + ["--log-likelihood", "--ll-samples", "50", "--ll-images", "20"])
        try #require(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("log p(x)") && first.stdout.contains("k = 50, 20 test images"), "\(first.stdout)")
        #expect(first.stdout.contains("active units"), "\(first.stdout)")
        let results = try TinyTrainedRun.json(tiny.run + "/results.json")
        let latent = try #require(results["latent"] as? [String: Any])
        let active = try #require(latent["activeUnits"] as? Int)
        #expect((0...20).contains(active) && latent["latentSize"] as? Int == 20)
        #expect((latent["unitVariances"] as? [Double])?.filter { $0 > 0.01 }.count == active)
        let ll = try #require(latent["logLikelihood"] as? [String: Any])
        let nats = try #require(ll["meanNats"] as? Double)
        let negativeELBO = try #require((results["reconstruction"] as? [String: Any])?["negativeELBO"] as? Double)
        #expect(nats < 0 && nats.isFinite && ll["samples"] as? Int == 50 && ll["images"] as? Int == 20)
        #expect(abs(nats) < 2 * negativeELBO, "log p(x) \(nats) against -ELBO \(negativeELBO)")

        // Without --log-likelihood the stored estimate stays (same checkpoint); the results are reused as they are.
        let second = try Executables.run("vae-eval", base)
        #expect(second.status == 0, "\(second.stderr)")
        let kept = try #require((try TinyTrainedRun.json(tiny.run + "/results.json"))["latent"] as? [String: Any])
        #expect((kept["logLikelihood"] as? [String: Any])?["meanNats"] as? Double == nats)
        // Other estimate settings recompute it.
        let third = try Executables.run("vae-eval", base + ["--log-likelihood", "--ll-samples", "10", "--ll-images", "20"])
        #expect(third.status == 0 && third.stderr.contains("log-likelihood (IWAE, k = 10, 20 test images)"), "\(third.stderr)")
        let bad = try Executables.run("vae-eval", base + ["--log-likelihood", "--ll-images", "1"])
        #expect(bad.status != 0 && bad.stderr.contains("--ll-images must be >= 2"), "\(bad.stderr)")
    }
}
