import Foundation
import Storage
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A command started in the background, its output in files (read while it runs).
final class BackgroundCommand {
    let process = Process()
    let folder = TemporaryFolder()
    var stderrPath: String { folder.path + "/err" }

    init(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: Executables.path(name))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["VAE_NO_REEXEC"] = "1"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        _ = FileManager.default.createFile(atPath: folder.path + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: folder.path + "/out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits for the exit (killing the process after `timeout` s) and returns its status.
    func finish(timeout: Double = 180) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
}

/// Polls `condition` every 20 ms for up to `limit` seconds (a bound against hangs, not a timing assertion).
func eventually(_ limit: Double = 120, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(limit)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// Nothing a user made is lost, mixed or half-written: no silent replacement of a checkpoint, evaluations that
/// merge into results.json, one writer per run folder (`.run.lock`), nothing misleading after a failure, and plain
/// file errors. Each case runs the built executables as separate processes on tiny IDX sets (1-2 epochs).
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct RunFolderSafetyTests {
    static let smallFID = ["--fid-samples", "16", "--fid-draws", "1", "--kid-subsets", "2", "--kid-subset-size", "8"]

    static func sha(_ path: String) throws -> String {
        SHA256.hexDigest(of: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    static func recordedCheckpoint(_ png: String) throws -> String? {
        PNGText.entries(in: [UInt8](try Data(contentsOf: URL(fileURLWithPath: png))))["checkpoint_sha256"]
    }

    static func eval(_ run: String, _ data: String, _ extra: [String]) throws -> RunOutcome {
        try Programs.product("vae-eval", [run, "--data", data, "--threads", "1"] + extra)
    }

    // MARK: 1. No silent replacement

    @Test func trainingIntoARunRefusesWithoutForceAndForceRemovesWhatWasDerived() throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder)
        let out = folder.path + "/out", run = out + "/runs/vae_std_z20", checkpoint = run + "/checkpoint.safetensors"
        #expect(try BadInputTests.train(data, out).status == 0)
        #expect(try Self.eval(run, data, ["--no-fid"]).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        #expect(try Self.recordedCheckpoint(run + "/samples.png") == (try Self.sha(checkpoint)), "the sheet records its checkpoint")

        let again = try BadInputTests.train(data, out, ["--seed", "2"])
        BadInputTests.expectRefused(again, "already holds a finished run; pass --resume to continue it or --force to replace it")
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == before, "the checkpoint changed")
        #expect(FileManager.default.fileExists(atPath: run + "/results.json"))

        let forced = try BadInputTests.train(data, out, ["--seed", "2", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) != before)
        let left = try FileManager.default.contentsOfDirectory(atPath: run).filter { !$0.hasPrefix(".") }.sorted()
        #expect(left == ["checkpoint.safetensors", "train-log.jsonl"], "files of the old checkpoint left: \(left)")
    }

    // MARK: 2. Evaluation merges

    @Test func evaluationKeepsWhatItDoesNotRecomputeAndRefusesSheetsOfAnotherCheckpoint() throws {
        let trained = try TinyTrainedRun(model: "vae_std_z20", trainCount: 64, testCount: 32, batchSize: 32)
        let full = try Self.eval(trained.run, trained.data, Self.smallFID)
        #expect(full.status == 0, "\(full.stderr)")
        let first = try TinyTrainedRun.json(trained.run + "/results.json")
        #expect(TinyTrainedRun.priorGeneration(first) != nil)

        let quick = try Self.eval(trained.run, trained.data, ["--no-fid", "--seed", "3"])
        #expect(quick.status == 0, "\(quick.stderr)")
        let merged = try TinyTrainedRun.json(trained.run + "/results.json")
        #expect(NSDictionary(dictionary: TinyTrainedRun.priorGeneration(merged)!)
                .isEqual(to: TinyTrainedRun.priorGeneration(first)!), "the stored FID, KID, precision and recall were dropped")
        #expect((merged["settings"] as! [String: Any])["seed"] as? Int == 3, "the reconstruction was not recomputed")

        // The same settings again: cached (with the kept FID). With the sheet replaced by one of another checkpoint:
        // recomputed.
        let cached = try Self.eval(trained.run, trained.data, ["--no-fid", "--seed", "3"])
        #expect(cached.stdout.contains("FID "), "\(cached.stdout)")
        #expect(cached.stderr.contains("results: cached"), "\(cached.stderr)")
        let sheet = trained.run + "/samples.png"
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: sheet)))
        let foreign = PNGText.inserting(["checkpoint_sha256": String(repeating: "0", count: 64)],
                                        into: Array(bytes[0..<33]) + Array(bytes[33...]).dropFirstTextChunks())!
        try Data(foreign).write(to: URL(fileURLWithPath: sheet))
        #expect(try Self.recordedCheckpoint(sheet) == String(repeating: "0", count: 64))
        let redone = try Self.eval(trained.run, trained.data, ["--no-fid", "--seed", "3"])
        #expect(redone.status == 0 && !redone.stderr.contains("results: cached"), "\(redone.stderr)")
        #expect(try Self.recordedCheckpoint(sheet) == (try Self.sha(trained.run + "/checkpoint.safetensors")))
    }

    // MARK: 3. One writer per run folder

    @Test func noWaitNamesTheHolderAndAWaitingEvaluationSaysSoAndFinishes() throws {
        let trained = try TinyTrainedRun(model: "vae_std_z20", trainCount: 64, testCount: 32, batchSize: 32)
        var lock: RunFolderLock? = try RunFolderLock(folder: trained.run, wait: false, command: "lock-test-holder")
        let refused = try Self.eval(trained.run, trained.data, ["--no-fid", "--no-wait"])
        BadInputTests.expectRefused(refused, "is in use by PID \(getpid()) (lock-test-holder)")
        let train = try Programs.product("vae-train", ["--model", "vae_std_z20", "--epochs", "2", "--batch-size", "32",
                                                       "--data", trained.data, "--out", trained.out, "--resume", "--no-wait"])
        BadInputTests.expectRefused(train, "is in use by PID \(getpid()) (lock-test-holder)")

        let waiting = try BackgroundCommand("vae-eval", [trained.run, "--data", trained.data, "--no-fid", "--threads", "1"])
        #expect(eventually { waiting.stderr.contains("waiting for \(trained.run): in use by PID \(getpid()) (lock-test-holder)") },
                "\(waiting.stderr)")
        #expect(!FileManager.default.fileExists(atPath: trained.run + "/results.json"), "it wrote while the lock was held")
        lock?.release()
        lock = nil
        #expect(waiting.finish() == 0, "\(waiting.stderr)")
        #expect(FileManager.default.fileExists(atPath: trained.run + "/results.json"))
    }

    @Test func anEvaluationDuringATrainingWaitsForItsLastCheckpoint() throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder)
        let out = folder.path + "/out", run = out + "/runs/vae_std_z20", release = folder.path + "/release"
        let training = try BackgroundCommand("vae-train", ["--model", "vae_std_z20", "--epochs", "2", "--batch-size", "32",
                                                           "--threads", "1", "--data", data, "--out", out],
                                             environment: ["VAE_FAULT_INJECT": "pause:2:1", "VAE_FAULT_RELEASE": release])
        #expect(eventually { FileManager.default.fileExists(atPath: release + ".paused") }, "\(training.stderr)")
        let refused = try Self.eval(run, data, ["--no-fid", "--no-wait"])
        BadInputTests.expectRefused(refused, "is in use by PID \(training.process.processIdentifier) (vae-train --model vae_std_z20")
        let evaluation = try BackgroundCommand("vae-eval", [run, "--data", data, "--no-fid", "--threads", "1"])
        #expect(eventually { evaluation.stderr.contains("waiting for \(run): in use by PID \(training.process.processIdentifier)") },
                "\(evaluation.stderr)")
        FileManager.default.createFile(atPath: release, contents: Data())
        #expect(training.finish() == 0, "\(training.stderr)")
        #expect(evaluation.finish() == 0, "\(evaluation.stderr)")
        let results = try TinyTrainedRun.json(run + "/results.json")
        #expect(results["checkpointSHA256"] as? String == (try Self.sha(run + "/checkpoint.safetensors")))
        #expect(results["trainingEpochs"] as? Int == 2, "it evaluated the checkpoint of epoch 1")
    }

    @Test func twoEvaluationsAtOnceBothFinishWithOneCheckpointsFiles() throws {
        let trained = try TinyTrainedRun(model: "vae_std_z20", trainCount: 64, testCount: 32, batchSize: 32)
        let a = try BackgroundCommand("vae-eval", [trained.run, "--data", trained.data, "--force", "--seed", "1", "--threads", "1"] + Self.smallFID)
        let b = try BackgroundCommand("vae-eval", [trained.run, "--data", trained.data, "--force", "--seed", "2", "--threads", "1"] + Self.smallFID)
        #expect(a.finish() == 0, "\(a.stderr)")
        #expect(b.finish() == 0, "\(b.stderr)")
        let sha = try Self.sha(trained.run + "/checkpoint.safetensors")
        let results = try TinyTrainedRun.json(trained.run + "/results.json")
        #expect(results["checkpointSHA256"] as? String == sha)
        #expect(try Self.recordedCheckpoint(trained.run + "/samples.png") == sha)
        // Whichever ran second wrote results.json; the sheet is the one of its seed (the same bytes as alone).
        let seed = (results["settings"] as! [String: Any])["seed"] as! Int
        let sheet = try Data(contentsOf: URL(fileURLWithPath: trained.run + "/samples.png"))
        let alone = try Self.eval(trained.run, trained.data, ["--force", "--seed", String(seed)] + Self.smallFID)
        #expect(alone.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: trained.run + "/samples.png")) == sheet)
    }

    @Test func aReportDuringASweepWaitsAndGivesTheFilesOfTheFinishedRuns() throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder, train: 64, test: 64)
        let out = folder.path + "/out", release = folder.path + "/release", study = folder.path + "/study.json"
        try Self.tinyStudy(runs: ["tiny_a", "tiny_b"], epochs: 2).write(toFile: study, atomically: true, encoding: .utf8)
        let sweep = try BackgroundCommand("vae-train", ["sweep", "--study", study, "--data", data, "--out", out],
                                          environment: ["VAE_FAULT_INJECT": "pause:2:1", "VAE_FAULT_RELEASE": release])
        #expect(eventually { FileManager.default.fileExists(atPath: release + ".paused") }, "\(sweep.stderr)")
        let report = try BackgroundCommand("vae-eval", ["report", out + "/runs", "--study", study, "--data", data,
                                                        "--notebook", folder.path + "/notebook/results.md", "--threads", "1"]
                                           + Self.smallFID)
        #expect(eventually { report.stderr.contains("waiting for \(out)/runs/tiny_a: in use by PID \(sweep.process.processIdentifier)") },
                "\(report.stderr)")
        FileManager.default.createFile(atPath: release, contents: Data())
        #expect(sweep.finish() == 0, "\(sweep.stderr)")
        #expect(report.finish() == 0, "\(report.stderr)")
        let run = out + "/runs/tiny_a"
        let results = try TinyTrainedRun.json(run + "/results.json")
        #expect(results["checkpointSHA256"] as? String == (try Self.sha(run + "/checkpoint.safetensors")))
        #expect(results["trainingEpochs"] as? Int == 2)
        #expect(try Self.recordedCheckpoint(run + "/reconstructions.png") == (try Self.sha(run + "/checkpoint.safetensors")))
        // Run again after both: the same results, reused.
        let before = try Data(contentsOf: URL(fileURLWithPath: run + "/results.json"))
        let again = try Programs.product("vae-eval", ["report", out + "/runs", "--study", study, "--data", data,
                                                      "--notebook", folder.path + "/notebook/results.md", "--threads", "1"]
                                         + Self.smallFID)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("tiny_a: cached results"), "\(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: run + "/results.json")) == before)
    }

    @Test func twoSweepsAtOnceGiveTheCheckpointsOfOneSweep() throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder)
        let study = folder.path + "/study.json"
        try Self.tinyStudy(runs: ["tiny_a", "tiny_b"], epochs: 2).write(toFile: study, atomically: true, encoding: .utf8)
        let arguments = ["sweep", "--study", study, "--data", data, "--out"]
        let a = try BackgroundCommand("vae-train", arguments + [folder.path + "/out"])
        let b = try BackgroundCommand("vae-train", arguments + [folder.path + "/out"])
        #expect(a.finish() == 0, "\(a.stderr)")
        #expect(b.finish() == 0, "\(b.stderr)")
        let alone = try Programs.product("vae-train", arguments + [folder.path + "/alone"])
        #expect(alone.status == 0, "\(alone.stderr)")
        for run in ["tiny_a", "tiny_b"] {
            let together = try SafeTensorsArchive(contentsOf: folder.path + "/out/runs/\(run)/checkpoint.safetensors")
            let single = try SafeTensorsArchive(contentsOf: folder.path + "/alone/runs/\(run)/checkpoint.safetensors")
            #expect(together.tensorDataDigest() == single.tensorDataDigest(), "\(run): other tensors than one sweep's")
            #expect(together.metadata["training"]?.contains("\"epoch\":2") == true)
            #expect(try String(contentsOfFile: folder.path + "/out/runs/\(run)/train-log.jsonl", encoding: .utf8)
                        .split(separator: "\n").count == 2)
        }
    }

    /// A study file of small MLP VAEs (hidden 32, z 4), batch 32, one thread.
    static func tinyStudy(runs: [String], epochs: Int) -> String {
        let entries = runs.map { name in
            """
            {"name": "\(name)", "model": {"kind": "mlp_vae", "imageSize": 784, "hiddenSize": 32, "latentSize": 4, "beta": 1,
             "residualBlocks": 0, "mmdWeight": 10, "mixtureComponents": 10, "codebookSize": 128, "codeSize": 16,
             "commitment": 0.25, "codebookDecay": 0.99},
             "training": {"epochs": \(epochs), "batchSize": 32, "learningRate": 0.001, "seed": 1, "threads": 1}}
            """
        }
        return "{\"title\": \"tiny\", \"runs\": [\(entries.joined(separator: ","))]}"
    }

    // MARK: 4. Failed work leaves nothing misleading

    @Test func divergenceBeforeTheFirstCheckpointLeavesNoFolderOrOnlyANote() throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder)
        let out = folder.path + "/out", run = out + "/runs/vae_std_z20"
        let fault = ["VAE_FAULT_INJECT": "nan-loss:1:2"]
        let first = try Programs.product("vae-train", ["--model", "vae_std_z20", "--epochs", "1", "--batch-size", "32",
                                                       "--data", data, "--out", out], environment: fault)
        BadInputTests.expectRefused(first, "diverged at epoch 1, batch 2: loss is nan; it wrote no checkpoint, its run folder is removed",
                                    status: 1)
        #expect(!FileManager.default.fileExists(atPath: run))

        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let second = try Programs.product("vae-train", ["--model", "vae_std_z20", "--epochs", "1", "--batch-size", "32",
                                                        "--data", data, "--out", out], environment: fault)
        BadInputTests.expectRefused(second, "it wrote no checkpoint, only \(run)/training-failed.txt is left", status: 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: run).filter { !$0.hasPrefix(".") }
        #expect(files == ["training-failed.txt"])
        #expect(try String(contentsOfFile: run + "/training-failed.txt", encoding: .utf8).contains("loss is nan"))
    }

    @Test func sampleWritesByExtensionAndRefusesAnUnknownOne() throws {
        let trained = try TinyTrainedRun(model: "vae_std_z20", trainCount: 64, testCount: 32, batchSize: 32)
        let base = trained.folder.path + "/samples"
        for (name, magic) in [(".npy", [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]), ("-idx3-ubyte", [0, 0, 8, 3]), (".idx", [0, 0, 8, 3]),
                              (".png", [0x89, 0x50, 0x4E, 0x47])] as [(String, [UInt8])] {
            let result = try Programs.product("vae-eval", ["sample", trained.run, "--count", "10", "--out", base + name])
            #expect(result.status == 0, "\(result.stderr)")
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: base + name)))
            #expect(Array(bytes.prefix(magic.count)) == magic, "\(name) written as another format")
        }
        #expect(try Self.recordedCheckpoint(base + ".png") == (try Self.sha(trained.run + "/checkpoint.safetensors")))
        let refused = try Programs.product("vae-eval", ["sample", trained.run, "--count", "10", "--out", base + ".jpg"])
        BadInputTests.expectRefused(refused, "samples.jpg has an unknown file type; end its name in .npy")
        #expect(!FileManager.default.fileExists(atPath: base + ".jpg"))
    }

    @Test func fileErrorsNameThePathAndTheCauseInPlainWords() throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder)
        let file = folder.path + "/afile"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let result = try BadInputTests.train(data, file)
        BadInputTests.expectRefused(result, "cannot create \(file)/runs/vae_std_z20: \(file) is a file, not a folder")
        #expect(!result.stderr.contains("Domain") && !result.stderr.contains("error 512"), "\(result.stderr)")
    }
}

extension Array where Element == UInt8 {
    /// PNG chunks (starting at a chunk boundary) without their tEXt chunks.
    func dropFirstTextChunks() -> [UInt8] {
        var out: [UInt8] = [], offset = 0
        while offset + 12 <= count {
            let length = Int(self[offset]) << 24 | Int(self[offset + 1]) << 16 | Int(self[offset + 2]) << 8 | Int(self[offset + 3])
            let type = String(decoding: self[(offset + 4)..<(offset + 8)], as: UTF8.self)
            if type != "tEXt" { out += self[offset..<(offset + 12 + length)] }
            offset += 12 + length
        }
        return out
    }
}
