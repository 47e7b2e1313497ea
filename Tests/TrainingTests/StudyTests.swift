import Foundation
import Autodiff
import Models
import Testing
import TestSupport
@testable import Training

@Suite struct StudyTests {
    static let studyPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../fixtures/study.json").standardized.path

    /// The shipped study (the one list of runs, which `vae-train --model NAME` reads) gives every run the protocol
    /// settings and a model the factory builds.
    @Test func shippedStudyRunsHaveTheProtocolSettings() throws {
        let study = try Study.load(from: Self.studyPath)
        #expect(study.runs.count >= 10)
        for run in study.runs {
            var g = SeededGenerator(seed: 1)
            #expect(try ModelFactory.make(run.model, generator: &g).configuration == run.model, "\(run.name)")
            #expect(run.training == TrainingSettings(epochs: 10, batchSize: 256, learningRate: 1e-3, seed: 1, threads: 2))
        }
        #expect(study.runs.first { $0.name == "vae_std_z20" }?.referenceMSE == 0.0144)
        #expect(study.runs.first { $0.name == "vq_vae" }?.referenceMSE == nil)
    }

    /// The longer study: vae_std_z20, vae_conv, gm_vae and vq_vae as in the study, 50 epochs with a snapshot every 5.
    @Test func fiftyEpochStudyTrainsTheStudysRunsLonger() throws {
        let study = try Study.load(from: Self.studyPath)
        let longer = try Study.load(from: Self.studyPath.replacingOccurrences(of: "study.json", with: "study-50-epochs.json"))
        #expect(longer.runs.map(\.name) == ["vae_std_z20", "vae_conv", "gm_vae", "vq_vae"])
        for run in longer.runs {
            let base = try #require(study.runs.first { $0.name == run.name })
            #expect(run.model == base.model, "\(run.name)")
            var expected = base.training
            expected.epochs = 50
            expected.checkpointEvery = 5
            #expect(run.training == expected, "\(run.name)")
        }
    }

    /// The GM-VAE ablation: gm_vae's configuration with one or two of the family's options changed, protocol settings.
    @Test func gmVAEAblationVariesOnlyTheFamilysOptions() throws {
        let ablation = try Study.load(from: Self.studyPath.replacingOccurrences(of: "study.json", with: "gm-vae-ablation.json"))
        let gm = try ShippedStudy.configuration("gm_vae")
        #expect(ablation.runs.count >= 5)
        for run in ablation.runs {
            var options = run.model
            options.mixtureInference = gm.mixtureInference; options.learnedMixtureWeights = gm.learnedMixtureWeights
            options.categoricalKLWeight = gm.categoricalKLWeight; options.mixtureComponents = gm.mixtureComponents
            #expect(options == gm && run.model != gm, "\(run.name)")
            #expect(run.training == TrainingSettings(epochs: 10, batchSize: 256, learningRate: 1e-3, seed: 1, threads: 2))
        }
    }

    @Test func onlySelectsRunsAndRejectsUnknownNames() throws {
        let study = try Study.load(from: Self.studyPath)
        #expect(try study.runs(only: ["wae", "vae_conv"]).map(\.name) == ["vae_conv", "wae"])
        #expect(throws: StudyError.self) { try study.runs(only: ["nope"]) }
    }

    @Test func seedsExpandRunsIntoSeededFolders() throws {
        let study = try Study.load(from: Self.studyPath)
        let runs = Study.seeded(try study.runs(only: ["wae", "vae_conv"]), seeds: 3)
        #expect(runs.map(\.name) == ["vae_conv-s1", "vae_conv-s2", "vae_conv-s3", "wae-s1", "wae-s2", "wae-s3"])
        #expect(runs.map(\.training.seed) == [1, 2, 3, 1, 2, 3])
        #expect(runs[4].model == study.runs.first { $0.name == "wae" }!.model)
        #expect(Study.seeded(study.runs, seeds: nil) == study.runs)
        #expect(Study.splitSeededName("beta_vae_0.5-s12") == ("beta_vae_0.5", 12))
        #expect(Study.splitSeededName("vae_std_z20") == ("vae_std_z20", nil))
        #expect(Study.splitSeededName("odd-s") == ("odd-s", nil))
        #expect(Study.splitSeededName("odd-sx1") == ("odd-sx1", nil))
    }

    @Test func malformedStudyFilesAreRefused() throws {
        let path = NSTemporaryDirectory() + "study-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bad = [
            #"{"title": "x"}"#,
            #"{"title": "x", "runs": [{"name": "a", "model": {"kind": "mlp_vae", "latentSize": 0}, "training": {"epochs": 1, "batchSize": 1, "learningRate": 0.1, "seed": 1, "threads": 1}}]}"#,
            #"{"title": "x", "runs": [{"name": "a", "model": {"kind": "mlp_vae"}, "training": {"epochs": 1, "batchSize": 0, "learningRate": 0.1, "seed": 1, "threads": 1}}]}"#,
            "not json",
        ]
        for text in bad {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: StudyError.self) { try Study.load(from: path) }
        }
        #expect(throws: StudyError.cannotRead(path: "/nonexistent/study.json")) { try Study.load(from: "/nonexistent/study.json") }
    }

    /// What the sweep does with each state of a run folder.
    @Test func sweepDecisions() throws {
        let root = NSTemporaryDirectory() + "sweep-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let run = Study.Run(name: "vae_std_z20", model: try ShippedStudy.configuration("vae_std_z20"),
                            training: TrainingSettings(epochs: 2, batchSize: 8, learningRate: 1e-3, seed: 3, threads: 1), referenceMSE: nil)
        let sweep = StudySweep(study: Study(title: "t", runs: [run]), dataDirectory: "/unused", outputRoot: root)
        #expect(sweep.decision(for: run, dataChecksum: "d") == .train)

        let folder = root + "/runs/vae_std_z20"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var generator = SeededGenerator(seed: 1)
        let model = try ModelFactory.make(run.model, generator: &generator)
        func write(epochsDone: Int, seed: UInt64 = 3) throws {
            let history = (0..<epochsDone).map { EpochSummary(epoch: $0 + 1, loss: 1, reconstruction: 1, regularizer: 0, seconds: 1) }
            let record = TrainingRecord(runName: run.name, epochs: 2, batchSize: 8, learningRate: 1e-3, seed: seed, threads: 1,
                                        dataChecksum: "d", history: history)
            try Checkpoint.write(model: model, training: record, to: folder + "/checkpoint.safetensors")
        }
        try write(epochsDone: 1)
        #expect(sweep.decision(for: run, dataChecksum: "d") == .resume)
        try write(epochsDone: 2)
        #expect(sweep.decision(for: run, dataChecksum: "d") == .skip)
        #expect(sweep.decision(for: run, dataChecksum: "other data") == .replace)
        try write(epochsDone: 2, seed: 4)
        #expect(sweep.decision(for: run, dataChecksum: "d") == .replace)
    }
}
