import Autodiff
import Datasets
import Foundation
import Models
import Storage
import Testing
import TestSupport
@testable import Training

/// The code-prior stage on tiny IDX data: `StudySweep` trains it after a VQ-VAE run and skips it when the run
/// folder holds a valid prior; `CodePriorTraining.run` refuses the checkpoints it cannot use.
@Suite(.tags(.slow), .skippedWhenFast) struct CodePriorStageTests {
    final class Scratch {
        let path = NSTemporaryDirectory() + "code-prior-stage-" + UUID().uuidString
        init() { try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func checkpointSHA256(_ runFolder: String) throws -> String {
        SHA256.hexDigest(of: try SafeTensorsArchive.readFile(runFolder + "/checkpoint.safetensors"))
    }

    @Test func sweepTrainsTheCodePriorOfVQRunsOnce() throws {
        let scratch = Scratch()
        let data = scratch.path + "/mnist", root = scratch.path + "/out"
        try TinyMNIST.write(into: data)
        let settings = TrainingSettings(epochs: 1, batchSize: 20, learningRate: 1e-3, seed: 2, threads: 1)
        let vq = Study.Run(name: "vq_vae", model: ModelConfiguration(kind: .vqVAE), training: settings, referenceMSE: nil)
        let mlp = Study.Run(name: "vae_std_z20", model: ModelConfiguration(kind: .mlpVAE), training: settings, referenceMSE: nil)
        var sweep = StudySweep(study: Study(title: "t", runs: [vq, mlp]), dataDirectory: data, outputRoot: root)
        sweep.priorSettings = TrainingSettings(epochs: 2, batchSize: 16, learningRate: 1e-3, seed: 99, threads: 2)
        var lines: [String] = []
        func runSweep() throws {
            lines = []
            try sweep.run([vq, mlp], log: { lines.append($0) }, progress: { _ in { _ in } })
        }
        try runSweep()
        let folder = root + "/runs/vq_vae", priorPath = folder + "/" + CodePrior.fileName
        #expect(lines.contains("vq_vae: training the code prior"), "\(lines)")
        let file = try CodePrior.readFile(from: priorPath, checkpointSHA256: try Self.checkpointSHA256(folder))
        let t = file.training
        // Epochs, batch and rate from the sweep's prior settings; seed and threads from the run.
        #expect(t.epochs == 2 && t.batchSize == 16 && t.seed == 2 && t.threads == 1 && t.history.count == 2)
        #expect(t.trainGrids == 40 && t.testGrids == 10 && t.history.allSatisfy { $0.trainNLL > 0 && $0.testNLL > 0 })
        #expect(t.dataChecksum == (try MNIST.checksumOfFiles(in: data)))
        #expect(file.prior.configuration == CodePriorConfiguration.forVQVAE(vq.model))
        #expect(!FileManager.default.fileExists(atPath: root + "/runs/vae_std_z20/" + CodePrior.fileName))

        // Again: both runs and the prior are skipped, the prior file is untouched.
        let before = try Data(contentsOf: URL(fileURLWithPath: priorPath))
        try runSweep()
        #expect(lines.contains("vq_vae: code prior of this checkpoint present, skipped"), "\(lines)")
        #expect(!lines.contains("vq_vae: training the code prior"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: priorPath)) == before)

        // A damaged prior is trained again.
        var damaged = [UInt8](before)
        damaged[damaged.count - 1] ^= 0xFF
        try Data(damaged).write(to: URL(fileURLWithPath: priorPath))
        try runSweep()
        #expect(lines.contains("vq_vae: training the code prior"), "\(lines)")
        #expect(CodePriorTraining.hasValidPrior(runFolder: folder))

        // The stage refuses a non-VQ checkpoint, and data other than the run's.
        #expect(throws: CodePriorTrainingError.notCodeModel(path: root + "/runs/vae_std_z20/checkpoint.safetensors", kind: "mlp_vae")) {
            try CodePriorTraining.run(runFolder: root + "/runs/vae_std_z20", dataDirectory: data)
        }
        let otherData = scratch.path + "/other"
        try TinyMNIST.write(into: otherData, seed: 5)
        #expect(throws: CodePriorTrainingError.otherData(path: folder + "/checkpoint.safetensors")) {
            try CodePriorTraining.run(runFolder: folder, dataDirectory: otherData)
        }
    }

    /// `jobs: 2` trains the runs side by side with one thread each and gives the same tensors (checkpoints and code
    /// prior) as one run after the other with two threads, for every model family (each one's ops are split into
    /// blocks on these sizes); a later sweep with other jobs skips the finished runs.
    @Test func sweepJobsSideBySideGiveTheSameTensors() throws {
        let scratch = Scratch()
        let data = scratch.path + "/mnist"
        try TinyMNIST.write(into: data)
        let settings = TrainingSettings(epochs: 1, batchSize: 20, learningRate: 1e-3, seed: 4, threads: 2)
        let runs = [Study.Run(name: "vq_vae", model: ModelConfiguration(kind: .vqVAE), training: settings, referenceMSE: nil),
                    Study.Run(name: "vae_conv", model: ModelConfiguration(kind: .convVAE), training: settings, referenceMSE: nil),
                    Study.Run(name: "gm_vae", model: ModelConfiguration(kind: .gmVAE), training: settings, referenceMSE: nil),
                    Study.Run(name: "wae", model: ModelConfiguration(kind: .wae), training: settings, referenceMSE: nil),
                    Study.Run(name: "vae_std_z20", model: ModelConfiguration(kind: .mlpVAE), training: settings, referenceMSE: nil)]
        func sweep(jobs: Int, into root: String) throws -> [String] {
            var sweep = StudySweep(study: Study(title: "t", runs: runs), dataDirectory: data, outputRoot: root)
            sweep.priorSettings = TrainingSettings(epochs: 1, batchSize: 16, learningRate: 1e-3, seed: 1, threads: 2)
            sweep.jobs = jobs
            var lines: [String] = []
            try sweep.run(runs, log: { lines.append($0) }, progress: { _ in { _ in } })
            return lines
        }
        let serial = scratch.path + "/serial", sideBySide = scratch.path + "/jobs"
        _ = try sweep(jobs: 1, into: serial)
        _ = try sweep(jobs: 2, into: sideBySide)
        for run in runs {
            let a = try SafeTensorsArchive(contentsOf: serial + "/runs/\(run.name)/checkpoint.safetensors")
            let b = try SafeTensorsArchive(contentsOf: sideBySide + "/runs/\(run.name)/checkpoint.safetensors")
            #expect(a.tensorDataDigest() == b.tensorDataDigest(), "\(run.name)")
            #expect(try Checkpoint.read(from: sideBySide + "/runs/\(run.name)/checkpoint.safetensors").training.threads == 1)
        }
        let priorA = try SafeTensorsArchive(contentsOf: serial + "/runs/vq_vae/" + CodePrior.fileName)
        let priorB = try SafeTensorsArchive(contentsOf: sideBySide + "/runs/vq_vae/" + CodePrior.fileName)
        #expect(priorA.tensorDataDigest() == priorB.tensorDataDigest())
        // The thread count is not part of a run's identity: nothing is trained again.
        let again = try sweep(jobs: 1, into: sideBySide)
        #expect(again.filter { $0.hasSuffix("skipped") }.count == runs.count + 1, "\(again)")
    }

    @Test func unfinishedCheckpointIsRefused() throws {
        let scratch = Scratch()
        let folder = scratch.path + "/runs/vq_vae"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var g = SeededGenerator(seed: 1)
        let model = try ModelFactory.make(ModelConfiguration(kind: .vqVAE), generator: &g)
        let record = TrainingRecord(runName: "vq_vae", epochs: 3, batchSize: 8, learningRate: 1e-3, seed: 1, threads: 1,
                                    dataChecksum: "d",
                                    history: [EpochSummary(epoch: 1, loss: 1, reconstruction: 1, regularizer: 0, seconds: 1)])
        try Checkpoint.write(model: model, training: record, to: folder + "/checkpoint.safetensors")
        #expect(throws: CodePriorTrainingError.unfinished(path: folder + "/checkpoint.safetensors", epochsDone: 1, epochs: 3)) {
            try CodePriorTraining.run(runFolder: folder, dataDirectory: scratch.path + "/no-data")
        }
        #expect(!CodePriorTraining.hasValidPrior(runFolder: folder))
    }
}
