import Foundation
import Storage
import Testing

/// `vae-eval RUN --features lenet,inception` and `vae-eval report` on tiny trained runs, with pytorch-fid's
/// Inception-v3 on seeded random weights written by scripts/inception_reference.py (run here with
/// scripts/torch-python: Debian's torch and pytorch-fid, which CI installs with `scripts/install-deps --torch`;
/// nothing is committed). Image counts stay tiny (64 test images, 8 samples per draw): the network does about
/// 28 images/s in a release build.
@Suite(.serialized) struct InceptionEvaluationTests {
    /// Writes the random weights (the published file's tensor names, as safetensors) into `folder`; returns the path.
    static func randomWeights(in folder: String) throws -> String {
        let script = try Programs.run(Programs.repositoryRoot + "/scripts/torch-python",
                                      [Programs.repositoryRoot + "/scripts/inception_reference.py", "parity", folder,
                                       "--first", "2", "--second", "2"], timeout: 600)
        try #require(script.status == 0, """
            inception_reference.py failed (it needs torch and pytorch-fid: scripts/install-deps --torch): \(script.stderr)
            """)
        return folder + "/weights.safetensors"
    }

    @Test func bothFeatureSpacesInResultsAndReport() throws {
        let tiny = try TinyTrainedRun(model: "vae_std_z20", trainCount: 300, testCount: 64)
        let weights = try Self.randomWeights(in: tiny.folder.path + "/inception")
        let weightsSHA = try RunFolderSafetyTests.sha(weights)
        let second = try Executables.run("vae-train", ["--model", "wae", "--epochs", "1", "--batch-size", "64", "--data", tiny.data,
                                                       "--out", tiny.out, "--threads", "1"])
        try #require(second.status == 0, "vae-train failed: \(second.stderr)")
        let small = ["--data", tiny.data, "--threads", "2", "--fid-samples", "8", "--fid-draws", "1", "--kid-subsets", "2"]
        let both = small + ["--features", "lenet,inception", "--inception-weights", weights]

        // Both networks: each with its own metrics and SHA-256; the Inception reference is computed once and cached.
        let first = try Executables.run("vae-eval", [tiny.run] + both)
        try #require(first.status == 0, "vae-eval failed: \(first.stderr)")
        #expect(first.stderr.contains("Inception reference features of 64 test images: computed and cached"), "\(first.stderr)")
        #expect(first.stdout.contains("FID (prior, inception)"), "\(first.stdout)")
        var results = try TinyTrainedRun.json(tiny.run + "/results.json")
        #expect(results["schemaVersion"] as? Int == 3)
        var settings = try #require(results["settings"] as? [String: Any])
        #expect(settings["features"] as? [String] == ["lenet", "inception"])
        #expect(settings["inceptionNetworkSHA256"] as? String == weightsSHA)
        let prior = try #require((results["samplers"] as? [String: Any])?["prior"] as? [String: Any])
        let lenet = try #require(prior["generation"] as? [String: Any])
        let inception = try #require(prior["inception"] as? [String: Any])
        #expect(inception["featureNetworkSHA256"] as? String == weightsSHA && inception["featureLayer"] as? String == "pool3")
        #expect(lenet["featureNetworkSHA256"] as? String != weightsSHA && lenet["featureLayer"] as? String == "fc1_pre_relu")
        #expect(inception["classes"] == nil && lenet["classes"] != nil)
        #expect(inception["referenceCount"] as? Int == 64)
        for key in ["fid", "kid", "precisionRecall"] { #expect(inception[key] != nil, "no \(key)") }
        let inceptionFID = try #require((inception["fid"] as? [String: Any])?["mean"] as? Double)
        let lenetFID = try #require((lenet["fid"] as? [String: Any])?["mean"] as? Double)
        #expect(inceptionFID.isFinite && inceptionFID > 0 && inceptionFID != lenetFID)
        let stored = NSDictionary(dictionary: inception)

        // The other run: the cached Inception reference is read, not recomputed.
        let wae = tiny.out + "/runs/wae"
        let other = try Executables.run("vae-eval", [wae] + both)
        try #require(other.status == 0, "vae-eval failed: \(other.stderr)")
        #expect(other.stderr.contains("Inception reference features of 64 test images: cached"), "\(other.stderr)")

        // LeNet alone, recomputed: the stored Inception entry survives as it was.
        let lenetOnly = try Executables.run("vae-eval", [tiny.run, "--force"] + small)
        try #require(lenetOnly.status == 0, "vae-eval failed: \(lenetOnly.stderr)")
        #expect(!lenetOnly.stderr.contains("Inception"), "LeNet alone needs no Inception: \(lenetOnly.stderr)")
        results = try TinyTrainedRun.json(tiny.run + "/results.json")
        settings = try #require(results["settings"] as? [String: Any])
        #expect(settings["features"] as? [String] == ["lenet", "inception"])
        #expect(settings["inceptionNetworkSHA256"] as? String == weightsSHA)
        let kept = ((results["samplers"] as? [String: Any])?["prior"] as? [String: Any])?["inception"] as? [String: Any]
        #expect(kept.map { NSDictionary(dictionary: $0) == stored } == true, "the Inception entry changed or went")
        // ... and answers a later Inception request without recomputing.
        let again = try Executables.run("vae-eval", [tiny.run] + small + ["--features", "inception", "--inception-weights", weights])
        #expect(again.status == 0 && again.stderr.contains("results: cached"), "\(again.stderr)")

        // The report: the Inception FID column, both ranks and Kendall's tau, the CSV rows and the Inception plot.
        let notebook = tiny.folder.path + "/notebook/study-results.md"
        let report = try Executables.run("vae-eval", ["report", tiny.out + "/runs", "--notebook", notebook] + both)
        try #require(report.status == 0, "vae-eval report failed: \(report.stderr)")
        let markdown = try String(contentsOfFile: notebook, encoding: .utf8)
        #expect(markdown.contains("| FID (Inception) |"), "no Inception column")
        #expect(markdown.contains("rank (LeNet) | FID (Inception) | rank (Inception)"))
        #expect(markdown.contains("Kendall's τ = ") && markdown.contains("2 runs"), "no tau")
        #expect(markdown.contains("tradeoff-inception.png"))
        #expect(FileManager.default.fileExists(atPath: tiny.folder.path + "/notebook/study-results/tradeoff-inception.png"))
        let csv = try String(contentsOfFile: tiny.folder.path + "/notebook/study-results.csv", encoding: .utf8)
        #expect(csv.contains(",prior,inception,fid,") && csv.contains(",prior,lenet,fid,"))
    }

    @Test func missingWeightsSayHowToGetThem() throws {
        let tiny = try TinyTrainedRun(model: "vae_std_z20", trainCount: 300, testCount: 64)
        let cache = tiny.folder.path + "/cache-home"
        let environment = ["XDG_CACHE_HOME": cache]
        let small = ["--data", tiny.data, "--threads", "1", "--fid-samples", "8", "--fid-draws", "1", "--kid-subsets", "2"]
        let cases: [(arguments: [String], expected: String)] = [
            ([tiny.run] + small + ["--features", "inception"], "vae-train download --inception"),
            ([tiny.run] + small + ["--features", "lenet", "--features", "inception"], cache + "/vae-toolkit"),
            (["fid", "--images", tiny.data + "/t10k-images-idx3-ubyte", "--data", tiny.data, "--features", "inception"],
             "vae-train download --inception"),
            ([tiny.run] + small + ["--features", "inception", "--inception-weights", cache + "/none.pth"], cache + "/none.pth"),
        ]
        for (arguments, expected) in cases {
            let result = try Executables.run("vae-eval", arguments, environment: environment)
            let lines = result.stderr.split(separator: "\n")
            #expect(result.status != 0 && lines.count == 1 && result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: tiny.run + "/results.json"), "nothing evaluated without the weights")
        let unknown = try Executables.run("vae-eval", [tiny.run, "--features", "clip"])
        #expect(unknown.status != 0 && unknown.stderr.contains("known: lenet, inception"), "\(unknown.stderr)")
    }
}
