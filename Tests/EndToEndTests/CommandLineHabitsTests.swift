import Foundation
import Testing
import TestSupport

/// Command-line habits: help that shows the default subcommand's options, the run names in `--model`'s help,
/// negative numbers refused with a clear message, `--version`, singular and plural counts, no "± 0" for one draw,
/// and progress over the whole job (epochs left and an ETA for a run, runs left and an ETA for a sweep, also
/// with `--jobs 2`).
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct CommandLineHabitsTests {
    @Test func helpShowsTheDefaultSubcommandsOptionsAndTheRunNames() throws {
        let train = try Programs.product("vae-train", ["--help"])
        #expect(train.status == 0)
        #expect(train.stdout.contains("SUBCOMMANDS:") && train.stdout.contains("sweep"), "\(train.stdout)")
        let options = try #require(train.stdout.range(of: "TRAINING OPTIONS")).upperBound
        let trainingPart = String(train.stdout[options...])
        for text in ["--model <model>", "--epochs <epochs>", "--resume", "--force", "--no-wait", "vae_std_z20_res", "beta_vae_0.5", "vq_vae"] {
            #expect(trainingPart.contains(text), "'\(text)' missing from: \(trainingPart)")
        }
        let eval = try Programs.product("vae-eval", ["--help"])
        #expect(eval.status == 0 && eval.stdout.contains("SUBCOMMANDS:") && eval.stdout.contains("--fid-draws <fid-draws>"),
                "\(eval.stdout)")
    }

    @Test func everyCommandPrintsTheToolkitAndCheckpointFormatVersions() throws {
        var lines: [String] = []
        for command in ["vae-train", "vae-eval", "vae-bench"] {
            let result = try Programs.product(command, ["--version"])
            #expect(result.status == 0, "\(command): \(result.stderr)")
            #expect(result.stdout.hasPrefix("vae-toolkit ") && result.stdout.contains("(checkpoint format 2)"), "\(result.stdout)")
            lines.append(result.stdout)
        }
        #expect(Set(lines).count == 1, "the commands disagree: \(lines)")
    }

    @Test(arguments: [
        ("vae-train", ["--model", "vae_std_z20", "--epochs", "-1"], "--epochs must be >= 1, got -1"),
        ("vae-train", ["--model", "vae_std_z20", "--lr", "-0.5"], "--lr must be a positive number, got -0.5"),
        ("vae-train", ["sweep", "--jobs", "-2"], "--jobs must be between 1 and 64, got -2"),
        ("vae-eval", ["out/runs/x", "--fid-draws", "-3"], "--fid-draws must be >= 1, got -3"),
        ("vae-eval", ["sample", "out/runs/x", "--count", "-4", "--out", "x.npy"], "--count must be >= 1, got -4"),
        ("vae-bench", ["--threads", "-1"], "--threads must list positive integers, got '-1'"),
    ])
    func negativeNumbersGetAClearMessage(command: String, arguments: [String], message: String) throws {
        BadInputTests.expectRefused(try Programs.product(command, arguments), message)
    }

    @Test func countsAreSingularForOneAndOneDrawHasNoSpread() throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder, train: 64, test: 32)
        let out = folder.path + "/out"
        let train = try BadInputTests.train(data, out)
        #expect(train.status == 0 && train.stdout.contains("vae_std_z20: 1 epoch in "), "\(train.stdout)")
        let eval = try Programs.product("vae-eval", [out + "/runs/vae_std_z20", "--data", data, "--threads", "1", "--fid-draws", "1",
                                                     "--fid-samples", "16", "--kid-subsets", "1", "--kid-subset-size", "8"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let lines = eval.stdout.split(separator: "\n")
        let fid = try #require(lines.first { $0.hasPrefix("FID ") }), kid = try #require(lines.first { $0.hasPrefix("KID ") })
        #expect(fid.hasSuffix("(1 draw of 16 samples)") && !fid.contains("±"), "\(fid)")
        #expect(kid.hasSuffix("(1 subset of 8)") && !kid.contains("±"), "\(kid)")
        #expect(lines.first { $0.hasPrefix("run ") }?.contains(", 1 epoch, ") == true, "\(eval.stdout)")
    }

    @Test func progressCoversTheWholeRunAndTheWholeSweep() throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder)
        let run = try BadInputTests.train(data, folder.path + "/one", ["--epochs", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("vae_std_z20 epoch 1/2 ") && run.stderr.contains("; 1 epoch left, ETA "), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").contains { $0.hasPrefix("vae_std_z20 epoch 2/2 ") && $0.hasSuffix("; done") })

        let study = folder.path + "/study.json"
        try RunFolderSafetyTests.tinyStudy(runs: ["tiny_a", "tiny_b"], epochs: 2).write(toFile: study, atomically: true, encoding: .utf8)
        let sweep = try Programs.product("vae-train", ["sweep", "--study", study, "--data", data, "--out", folder.path + "/out", "--jobs", "2"])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let lines = sweep.stderr.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("sweep: tiny_") && $0.contains(": done; 1 of 2 runs done, 1 left, ETA ") }, "\(sweep.stderr)")
        #expect(lines.contains { $0.hasPrefix("sweep: tiny_") && $0.hasSuffix(": done; 2 of 2 runs done, 0 left") }, "\(sweep.stderr)")
        // Side by side, each run's progress is whole lines of its own (no live bars overwriting each other).
        for name in ["tiny_a", "tiny_b"] {
            #expect(lines.filter { $0.hasPrefix("\(name) epoch ") }.count == 2, "\(sweep.stderr)")
        }
        #expect(!sweep.stderr.contains("\r"))
    }
}
