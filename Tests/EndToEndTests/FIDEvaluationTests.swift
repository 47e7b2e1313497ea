import Datasets
import Foundation
import Storage
import Testing
import TestSupport

/// `vae-eval` with the shipped feature network: the generation section of results.json, the evaluation
/// cache, `vae-eval sample` and `vae-eval fid --images`, run as a user would on a tiny trained run.
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct FIDEvaluationTests {
    static func json(_ path: String) throws -> [String: Any] { try TinyTrainedRun.json(path) }

    @Test func evaluateCacheSampleAndScoreImages() throws {
        let tiny = try TinyTrainedRun(model: "vae_std_z20", trainCount: 300, testCount: 100)
        let folder = tiny.folder, data = tiny.data, out = tiny.out, run = tiny.run
        let arguments = [run, "--data", data, "--threads", "1", "--fid-samples", "200", "--fid-draws", "2",
                         "--kid-subsets", "10"]

        // First evaluation, run from outside the repository: the network is found through #filePath.
        let first = try Executables.run("vae-eval", arguments, currentDirectory: folder.path)
        try #require(first.status == 0, "vae-eval failed: \(first.stderr)")
        #expect(first.stderr.contains("computed and cached"), "stderr: \(first.stderr)")
        #expect(first.stdout.contains("FID") && first.stdout.contains("precision"), "stdout: \(first.stdout)")
        let results = try Self.json(run + "/results.json")
        let generation = try #require(TinyTrainedRun.priorGeneration(results))
        let settings = try #require(generation["settings"] as? [String: Any])
        #expect(settings["samples"] as? Int == 200 && settings["draws"] as? Int == 2 && settings["seed"] as? Int == 0)
        #expect((generation["featureNetworkSHA256"] as? String)?.count == 64)
        #expect(generation["referenceCount"] as? Int == 100)
        let fid = try #require(generation["fid"] as? [String: Any])
        let values = try #require(fid["values"] as? [Double])
        #expect(values.count == 2 && values.allSatisfy { $0.isFinite && $0 > 0 })
        let kid = try #require(generation["kid"] as? [String: Any])
        #expect(kid["subsets"] as? Int == 10 && kid["subsetSize"] as? Int == 100)
        let pr = try #require(generation["precisionRecall"] as? [String: Any])
        #expect((0...1).contains(pr["precision"] as? Double ?? -1) && (0...1).contains(pr["recall"] as? Double ?? -1))
        let classes = try #require(generation["classes"] as? [String: Any])
        #expect((classes["histogram"] as? [Int])?.reduce(0, +) == 200)
        #expect(results["diagnostics"] != nil && results["settings"] != nil)
        // The reference features went to out/cache, keyed by network and data.
        let cached = try FileManager.default.contentsOfDirectory(atPath: out + "/cache")
        #expect(cached.count == 1 && cached[0].hasPrefix("reference-"), "\(cached)")

        // Second evaluation with the same settings: reused, byte-identical results.
        let before = try Data(contentsOf: URL(fileURLWithPath: run + "/results.json"))
        let second = try Executables.run("vae-eval", arguments)
        #expect(second.status == 0, "vae-eval failed: \(second.stderr)")
        #expect(second.stderr.contains("cached"), "stderr: \(second.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: run + "/results.json")) == before)
        #expect(second.stdout.contains(String(format: "%.3f", (fid["mean"] as? Double) ?? -1)))

        // Changed settings or --force recompute (the reference features stay cached).
        let third = try Executables.run("vae-eval", arguments + ["--force"])
        #expect(third.status == 0 && !third.stderr.contains("results: cached"), "stderr: \(third.stderr)")
        #expect(third.stderr.contains("reference features of 100 test images: cached"), "stderr: \(third.stderr)")
        let reseeded = try Executables.run("vae-eval", arguments + ["--seed", "5"])
        #expect(reseeded.status == 0 && !reseeded.stderr.contains("results: cached"))
        #expect(((try Self.json(run + "/results.json"))["evaluationSeed"] as? Int) == 5)

        // vae-eval sample: a valid uint8 .npy (and IDX by name), written atomically.
        let npy = folder.path + "/samples.npy"
        let sample = try Executables.run("vae-eval", ["sample", run, "--count", "150", "--out", npy, "--seed", "3"])
        try #require(sample.status == 0, "vae-eval sample failed: \(sample.stderr)")
        let array = try NPY.read(contentsOf: npy)
        #expect(array.shape == [150, 28, 28])
        guard case .uint8(let bytes) = array.elements else { Issue.record("not uint8"); return }
        #expect(bytes.contains { $0 > 0 })
        let idx = folder.path + "/samples-idx3-ubyte"
        #expect(try Executables.run("vae-eval", ["sample", run, "--count", "150", "--out", idx, "--seed", "3"]).status == 0)
        #expect(try IDX.read(contentsOf: idx, dimensionCount: 3).values == bytes)

        // vae-eval fid --images on that file.
        let score = try Executables.run("vae-eval", ["fid", "--images", npy, "--data", data, "--threads", "1",
                                                     "--kid-subsets", "5", "--cache-dir", out + "/cache"])
        #expect(score.status == 0, "vae-eval fid failed: \(score.stderr)")
        #expect(score.stdout.contains("(npy uint8 (150, 28, 28)) vs 100 images of the MNIST test set") && score.stdout.contains("FID"), "stdout: \(score.stdout)")
        #expect(score.stderr.contains("reference features of 100 test images: cached"))
        let line = try #require(score.stdout.split(separator: "\n").first { $0.hasPrefix("FID") })
        let value = try #require(Double(line.split(separator: " ").last.map(String.init) ?? ""))
        #expect(value.isFinite && value > 0)
    }

    @Test func badFeatureNetworkAndImagesGiveOneLineErrors() throws {
        let folder = TemporaryFolder()
        try TinyMNIST.write(to: folder.path, trainCount: 10, testCount: 10)
        var archive = SafeTensorsArchive(metadata: ["format": "vae-toolkit-feature-network"])
        archive.set("conv1.weight", floats: [Float](repeating: 0, count: 10), shape: [10])
        try archive.write(to: folder.path + "/net.safetensors")
        try IDX.write([UInt8](repeating: 0, count: 3 * 784), dimensions: [3, 28, 28], to: folder.path + "/x-idx3-ubyte")
        for (arguments, message) in [
            (["fid", "--images", folder.path + "/x-idx3-ubyte", "--feature-network", folder.path + "/net.safetensors"], "conv1.weight"),
            (["fid", "--images", folder.path + "/missing.npy"], "missing.npy"),
            (["fid", "--images", folder.path + "/t10k-labels-idx1-ubyte"], "t10k-labels-idx1-ubyte"),
        ] {
            let result = try Executables.run("vae-eval", arguments + ["--data", folder.path])
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count <= 2 && !result.stderr.contains("Fatal error"))
        }
    }
}
