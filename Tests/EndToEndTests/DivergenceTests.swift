import Foundation
import Storage
import Testing
import TestSupport

/// A NaN or infinity in the loss or the parameters stops training with one line naming the run, the epoch
/// and the batch, exit status 1, and the last good checkpoint left byte for byte as it was.
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct DivergenceTests {
    static func train(_ data: String, _ out: String, _ extra: [String], fault: String? = nil) throws -> RunOutcome {
        try Programs.product("vae-train", ["--model", "vae_std_z20", "--batch-size", "32", "--threads", "1",
                                           "--data", data, "--out", out] + extra,
                             environment: fault.map { ["VAE_FAULT_INJECT": $0] } ?? [:])
    }

    /// A learning rate of 100 really diverges on the tiny set (64 images, 2 batches per epoch): epoch 1 ends with
    /// a huge but finite loss and is checkpointed, the first batch of epoch 2 gives a NaN. The message says so, and
    /// resuming (which diverges again, deterministically) leaves epoch 1's checkpoint and log byte for byte as
    /// they were.
    @Test func highLearningRateDivergesAndKeepsTheLastCheckpoint() throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder)
        let out = folder.path + "/out", run = out + "/runs/vae_std_z20", checkpoint = run + "/checkpoint.safetensors"
        let first = try Self.train(data, out, ["--epochs", "3", "--lr", "100"])
        BadInputTests.expectRefused(first, "training of vae_std_z20 diverged at epoch 2, batch ", status: 1)
        #expect(first.errorLines.first?.contains("the last good checkpoint is kept (try a lower learning rate)") == true)
        let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        let log = try Data(contentsOf: URL(fileURLWithPath: run + "/train-log.jsonl"))
        #expect(String(decoding: log, as: UTF8.self).split(separator: "\n").count == 1)

        let again = try Self.train(data, out, ["--epochs", "3", "--resume"])
        BadInputTests.expectRefused(again, "training of vae_std_z20 diverged at epoch 2, batch ", status: 1)
        #expect(again.errorLines == first.errorLines, "resuming diverged differently")
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == before, "the checkpoint changed")
        #expect(try Data(contentsOf: URL(fileURLWithPath: run + "/train-log.jsonl")) == log, "the log changed")
    }

    /// Injected faults in later epochs: the checkpoint of the last finished epoch stays byte-identical, resuming
    /// it works, and a fault while resuming leaves it untouched as well.
    @Test func injectedNaNStopsTrainingAndKeepsTheLastCheckpoint() throws {
        let folder = TemporaryFolder()
        let data = try BadInputTests.tinyData(folder)
        let out = folder.path + "/out", run = out + "/runs/vae_std_z20", checkpoint = run + "/checkpoint.safetensors"

        // NaN loss in epoch 2, batch 2: epoch 1's checkpoint is on disk.
        let first = try Self.train(data, out, ["--epochs", "3"], fault: "nan-loss:2:2")
        BadInputTests.expectRefused(first, "training of vae_std_z20 diverged at epoch 2, batch 2: loss is nan", status: 1)
        #expect(first.stderr.contains("epoch 1/3"))
        let afterEpoch1 = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        let archive = try SafeTensorsArchive(contentsOf: checkpoint)
        #expect(archive.metadata["training"]?.contains("\"epoch\":1") == true)
        #expect(archive.metadata["training"]?.contains("\"epoch\":2") == false)
        #expect(try String(contentsOfFile: run + "/train-log.jsonl", encoding: .utf8).split(separator: "\n").count == 1)

        // Resuming with a NaN parameter after epoch 2's first update: stopped again, same checkpoint bytes.
        let second = try Self.train(data, out, ["--epochs", "3", "--resume"], fault: "nan-param:2:1")
        BadInputTests.expectRefused(second, "training of vae_std_z20 diverged at epoch 2, batch 1: parameter ", status: 1)
        #expect(second.errorLines.first?.contains("is not finite") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == afterEpoch1, "the last good checkpoint changed")

        // Without the fault the run resumes and finishes.
        let third = try Self.train(data, out, ["--epochs", "3", "--resume"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stderr.contains("epoch 3/3") && !third.stderr.contains("epoch 1/3"))
    }
}
