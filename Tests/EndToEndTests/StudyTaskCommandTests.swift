import Foundation
import Testing
import TestSupport

/// `vae-train sweep` and `vae-eval report` as tasks of a batch array (`--task-index`, `--list-tasks`, the index from
/// SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX) and the notebook from stored results (`report --no-evaluate`), run as
/// the built executables. scripts/slurm-test runs the same on a real Slurm.
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct StudyTaskCommandTests {
    static let shippedStudy = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../fixtures/study.json").standardized.path

    /// A study of two small one-epoch MLP runs built from the shipped study's first run.
    static func tinyStudy(in folder: TemporaryFolder) throws -> String {
        let shipped = try TinyTrainedRun.json(shippedStudy)
        var runs: [[String: Any]] = []
        for name in ["small_a", "small_b"] {
            var run = (shipped["runs"] as! [[String: Any]])[0]
            var model = run["model"] as! [String: Any], training = run["training"] as! [String: Any]
            model["hiddenSize"] = 32; model["latentSize"] = 4
            training["epochs"] = 1; training["batchSize"] = 32; training["threads"] = 1
            run["name"] = name; run["model"] = model; run["training"] = training; run["referenceMSE"] = NSNull()
            runs.append(run)
        }
        let path = folder.path + "/study.json"
        try JSONSerialization.data(withJSONObject: ["title": "tiny", "runs": runs]).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func bothCommandsListTheSameTasksInStudyOrder() throws {
        let selection = ["--only", "wae,vae_conv", "--seeds", "2", "--study", Self.shippedStudy]
        let train = try Programs.product("vae-train", ["sweep", "--list-tasks"] + selection)
        let report = try Programs.product("vae-eval", ["report", "--list-tasks"] + selection)
        #expect(train.status == 0 && report.status == 0, "\(train.stderr) \(report.stderr)")
        #expect(train.stdout == "0 vae_conv-s1\n1 vae_conv-s2\n2 wae-s1\n3 wae-s2\n")
        #expect(report.stdout == train.stdout)
    }

    @Test(arguments: [
        (["--task-index", "4"], [String: String](), "task index 4 is out of range: this study has 4 tasks (0...3)"),
        ([], ["SLURM_ARRAY_TASK_ID": "9"], "task index 9 is out of range"),
        ([], ["JOB_COMPLETION_INDEX": "7"], "task index 7 is out of range"),
        ([], ["SLURM_ARRAY_TASK_ID": "1-3"], "SLURM_ARRAY_TASK_ID is '1-3', not a task index"),
        (["--task-index=-1"], [String: String](), "--task-index must be >= 0"),
    ])
    func badTaskIndexIsRefusedInOneLine(arguments: [String], environment: [String: String], message: String) throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder)
        let selection = ["--only", "wae,vae_conv", "--seeds", "2", "--study", Self.shippedStudy, "--data", data]
        let train = try Programs.product("vae-train", ["sweep", "--out", folder.path + "/out"] + selection + arguments,
                                         environment: environment)
        BadInputTests.expectRefused(train, message)
        let report = try Programs.product("vae-eval", ["report", folder.path + "/out/runs"] + selection + arguments,
                                          environment: environment)
        BadInputTests.expectRefused(report, message)
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/out/runs"))
    }

    /// Each task trains or evaluates its run folder only; `--no-evaluate` names the runs without stored results and
    /// writes nothing, then writes the notebook once every run is evaluated, without evaluating.
    @Test func tasksWriteOnlyTheirRunAndTheReportUsesStoredResults() throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder, train: 96, test: 64)  // the report's sheets need 64 test images
        let study = try Self.tinyStudy(in: folder)
        let out = folder.path + "/out", runs = out + "/runs", notebook = folder.path + "/notebook/results.md"
        let evaluation = ["--study", study, "--data", data, "--fid-samples", "16", "--fid-draws", "1", "--kid-subsets", "2",
                          "--kid-subset-size", "8", "--notebook", notebook, "--threads", "1"]

        let second = try Programs.product("vae-train", ["sweep", "--study", study, "--data", data, "--out", out],
                                          environment: ["SLURM_ARRAY_TASK_ID": "1"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("task 1 of 2: small_b"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: runs) == ["small_b"])
        let first = try Programs.product("vae-train", ["sweep", "--study", study, "--data", data, "--out", out, "--task-index", "0",
                                                       "--threads", "2"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: runs).sorted() == ["small_a", "small_b"])

        let evaluated = try Programs.product("vae-eval", ["report", runs] + evaluation, environment: ["JOB_COMPLETION_INDEX": "1"])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        #expect(FileManager.default.fileExists(atPath: runs + "/small_b/results.json"))
        #expect(!FileManager.default.fileExists(atPath: runs + "/small_a/results.json"))
        #expect(!FileManager.default.fileExists(atPath: notebook))

        let refused = try Programs.product("vae-eval", ["report", runs, "--no-evaluate"] + evaluation)
        BadInputTests.expectRefused(refused, "no stored results of these runs' checkpoints and settings: small_a (no results.json);")
        #expect(!refused.stderr.contains("small_b"))
        #expect(!FileManager.default.fileExists(atPath: notebook))
        // Other settings than the stored ones are not the stored results either.
        var otherSeed = evaluation
        otherSeed += ["--seed", "5"]
        let stale = try Programs.product("vae-eval", ["report", runs, "--no-evaluate"] + otherSeed)
        BadInputTests.expectRefused(stale, "small_b (results of another checkpoint or other settings)")

        let task0 = try Programs.product("vae-eval", ["report", runs, "--task-index", "0"] + evaluation)
        #expect(task0.status == 0, "\(task0.stderr)")
        let storedA = try Data(contentsOf: URL(fileURLWithPath: runs + "/small_a/results.json"))
        let report = try Programs.product("vae-eval", ["report", runs, "--no-evaluate"] + evaluation)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stderr.contains("small_a: cached results") && report.stderr.contains("small_b: cached results"))
        let text = try String(contentsOfFile: notebook, encoding: .utf8)
        #expect(text.contains("small_a") && text.contains("small_b"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: runs + "/small_a/results.json")) == storedA)
    }
}
