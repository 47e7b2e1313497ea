import Foundation
import Imaging
import Storage
import Testing
import TestSupport

/// The built `vae-train` and `vae-eval`, run as a user would, on a tiny IDX set the test writes.
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct TrainEvaluateTests {
    @Test func trainThenEvaluate() throws {
        let folder = TemporaryFolder()
        let data = folder.path + "/mnist", out = folder.path + "/out"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try TinyMNIST.write(to: data)

        let train = try Executables.run("vae-train", ["--model", "vae_std_z20", "--epochs", "3", "--batch-size", "64",
                                                      "--data", data, "--out", out, "--threads", "1"])
        #expect(train.status == 0, "vae-train failed: \(train.stderr)")
        let run = out + "/runs/vae_std_z20"
        #expect(FileManager.default.fileExists(atPath: run + "/checkpoint.safetensors"))
        #expect(train.stderr.contains("epoch 3/3"))

        // The log has one line per epoch and the loss went down.
        let log = try String(contentsOfFile: run + "/train-log.jsonl", encoding: .utf8)
        let epochs = log.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(epochs.count == 3)
        let losses = epochs.map { $0["loss"] as! Double }
        #expect(losses[2] < losses[0], "loss did not go down: \(losses)")

        let eval = try Executables.run("vae-eval", [run, "--data", data, "--threads", "1", "--fid-samples", "200", "--fid-draws", "2"])
        #expect(eval.status == 0, "vae-eval failed: \(eval.stderr)")
        let results = try TinyTrainedRun.json(run + "/results.json")
        let reconstruction = results["reconstruction"] as! [String: Any]
        let mse = reconstruction["meanSquaredError"] as! Double
        #expect(mse.isFinite && mse > 0 && mse < 0.25, "MSE \(mse)")
        #expect((reconstruction["imageCount"] as! Int) == 100)
        let grid = try PNGFile.read(contentsOf: run + "/samples.png")
        // 8 x 8 tiles with separators under a title band naming the run and the sampler.
        #expect(grid.width == 8 * 28 + 9 && grid.height > 8 * 28 + 9 + 20 && grid.channels == 1)
        let top = grid.height - (8 * 28 + 9)
        #expect((0..<grid.width).allSatisfy { grid[x: $0, y: top] == 128 }, "the grid's top border")
        #expect((0..<top).contains { y in (0..<grid.width).contains { grid[x: $0, y: y] < 128 } }, "no text in the title band")

        // Same seed, other thread count: bit-identical checkpoint tensors (products are cut into blocks fixed by
        // their shapes, not by the threads).
        let again = try Executables.run("vae-train", ["--model", "vae_std_z20", "--epochs", "3", "--batch-size", "64",
                                                      "--data", data, "--out", folder.path + "/again", "--threads", "2"])
        #expect(again.status == 0)
        let first = try SafeTensorsArchive(contentsOf: run + "/checkpoint.safetensors")
        let second = try SafeTensorsArchive(contentsOf: folder.path + "/again/runs/vae_std_z20/checkpoint.safetensors")
        #expect(first.tensorDataDigest() == second.tensorDataDigest())
    }

    /// Bad input: a one-line error on stderr and a non-zero exit, never a crash.
    @Test(arguments: [
        (["--model", "no_such_model"], "unknown --model"),
        (["--model", "vae_std_z20", "--batch-size", "0"], "--batch-size must be >= 1"),
        (["--model", "vae_std_z20", "--lr=-1"], "--lr must be a positive number"),
        (["--model", "vae_std_z20", "--data", "/nonexistent/mnist"], "/nonexistent/mnist"),
    ])
    func trainRejectsBadInput(arguments: [String], message: String) throws {
        let folder = TemporaryFolder()
        let result = try Executables.run("vae-train", arguments + ["--out", folder.path + "/out"])
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"))
    }

    /// --resume continues the stored run with its own settings and says so when the flags differ.
    @Test func resumeWithOtherFlagsKeepsTheCheckpointSettingsAndSaysSo() throws {
        let folder = TemporaryFolder()
        let data = folder.path + "/mnist", out = folder.path + "/out"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try TinyMNIST.write(to: data, trainCount: 64, testCount: 10)
        let common = ["--model", "vae_std_z20", "--batch-size", "32", "--threads", "1", "--data", data, "--out", out]
        let first = try Executables.run("vae-train", common + ["--epochs", "1"])
        #expect(first.status == 0, "\(first.stderr)")
        let resumed = try Executables.run("vae-train", common + ["--epochs", "1", "--lr", "0.5", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("note: resuming vae_std_z20 with its checkpoint's settings"), "\(resumed.stderr)")
        #expect(resumed.stderr.contains("lr 0.001"))
    }

    @Test func evalRejectsCorruptCheckpoint() throws {
        let folder = TemporaryFolder()
        let run = folder.path + "/runs/broken"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        try Data("this is not a safetensors file".utf8).write(to: URL(fileURLWithPath: run + "/checkpoint.safetensors"))
        try TinyMNIST.write(to: folder.path, trainCount: 10, testCount: 10)
        let result = try Executables.run("vae-eval", [run, "--data", folder.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("checkpoint.safetensors"), "stderr: \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count <= 2)
        #expect(!FileManager.default.fileExists(atPath: run + "/results.json"))
    }
}
