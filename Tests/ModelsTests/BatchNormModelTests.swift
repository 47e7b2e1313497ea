import Autodiff
import Datasets
import Foundation
import Layers
import Models
import Storage
import Training
import Testing
import TestSupport

/// The batch-norm runs: training mode only inside `whileTraining`, evaluation everywhere else, and the buffers in
/// the checkpoint under PyTorch's names.
@Suite struct BatchNormModelTests {
    static let runs = ["vae_std_z20_bn", "vae_conv_bn"]

    static func buffers(_ model: any GenerativeModel) -> [[Float]] { model.namedBuffers.map(\.tensor.data) }

    @Test(arguments: runs)
    func trainingModeOnlyInsideWhileTraining(run: String) throws {
        var g = SeededGenerator(seed: 1)
        let model = try ModelFactory.make(try ShippedStudy.configuration(run), generator: &g)
        #expect(!model.isTraining)
        let x = ModelTests.tinyBatch(6)
        let initial = Self.buffers(model)
        // Every evaluation path leaves the running estimates and the batch counters alone.
        _ = model.encode(x); _ = model.reconstruct(x); _ = model.sample(count: 3, generator: &g)
        _ = model.negativeELBO(x, generator: &g); _ = model.loss(x, generator: &g)
        #expect(Self.buffers(model) == initial)
        #expect(model.namedCounters.allSatisfy { $0.counter.value == 0 })
        let output = model.whileTraining { model.loss(x, generator: &g) }
        #expect(!model.isTraining)
        #expect(Self.buffers(model) != initial)
        #expect(model.namedCounters.allSatisfy { $0.counter.value == 1 })
        #expect(output.total.scalar.isFinite)
    }

    /// In evaluation mode an image's code does not depend on the other images of its batch (up to the rounding of
    /// matrix products of other sizes); in training mode it does.
    @Test(arguments: runs)
    func evaluationIsPerImage(run: String) throws {
        var g = SeededGenerator(seed: 2)
        let model = try ModelFactory.make(try ShippedStudy.configuration(run), generator: &g)
        let x = ModelTests.tinyBatch(5)
        _ = model.whileTraining { model.loss(x, generator: &g) }   // running estimates away from their initial values
        let first = Tensor(shape: [1, 784], data: Array(x.data[0..<784]))
        let pair = Tensor(shape: [2, 784], data: Array(x.data[0..<(2 * 784)]))
        func largestDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }
        let alone = model.encode(first).data, inBatch = model.encode(x).data
        #expect(largestDifference(inBatch, alone) <= 1e-5)
        model.isTraining = true
        defer { model.isTraining = false }
        let trainingPair = model.encode(pair).data, trainingBatch = model.encode(x).data
        #expect(largestDifference(trainingBatch, trainingPair) > 1e-3)
    }

    @Test func checkpointHoldsTheBuffersUnderPyTorchNames() throws {
        var g = SeededGenerator(seed: 3)
        let model = try ModelFactory.make(try ShippedStudy.configuration("vae_std_z20_bn"), generator: &g)
        for seed in 1...3 { _ = model.whileTraining { model.loss(ModelTests.tinyBatch(4, seed: UInt64(seed)), generator: &g) } }
        let path = NSTemporaryDirectory() + "bn-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let record = TrainingRecord(runName: "vae_std_z20_bn", epochs: 1, batchSize: 4, learningRate: 1e-3, seed: 3, threads: 1,
                                    dataChecksum: "abc")
        try Checkpoint.write(model: model, training: record, to: path)
        let archive = try SafeTensorsArchive(contentsOf: path)
        for module in ["encoder.fc1_bn", "decoder.fc3_bn"] {
            #expect(try archive.shape(of: module + ".running_mean") == [400])
            #expect(try archive.shape(of: module + ".running_var") == [400])
            #expect(try archive.shape(of: module + ".num_batches_tracked") == [])
            #expect(archive.entries[module + ".num_batches_tracked"]?.dtype == .i64)
            #expect(try archive.int64s(module + ".num_batches_tracked") == [3])
            #expect(try archive.shape(of: module + ".weight") == [400] && (try archive.shape(of: module + ".bias")) == [400])
        }
        let loaded = try Checkpoint.read(from: path).model
        #expect(Self.buffers(loaded) == Self.buffers(model))
        #expect(loaded.namedCounters.map(\.counter.value) == [3, 3])
        #expect(loaded.configuration.batchNorm && !loaded.isTraining)
        // A configuration without batch norm writes no `batchNorm` key, so its JSON is what it was before the field.
        #expect(!ModelConfiguration(kind: .mlpVAE).jsonString().contains("batchNorm"))
        #expect(loaded.configuration.jsonString().contains("\"batchNorm\":true"))
    }

    @Test func batchNormIsRefusedForOtherKinds() {
        var configuration = ModelConfiguration(kind: .wae)
        configuration.batchNorm = true
        #expect(throws: ModelError.self) { try configuration.validate() }
    }
}

/// Batch norm cannot train on a batch of one image: the trainer refuses such a split before the first step.
@Suite struct BatchNormTrainerTests {
    @Test func aLastBatchOfOneImageIsRefused() throws {
        let data = MNISTSplit(images: ModelTests.tinyBatch(9).data, labels: [UInt8](repeating: 0, count: 9), rows: 28, columns: 28)
        let path = NSTemporaryDirectory() + "bn-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        func trainer(_ run: String, batch: Int) throws -> Trainer {
            try Trainer(runName: run, configuration: try ShippedStudy.configuration(run),
                        settings: TrainingSettings(epochs: 1, batchSize: batch, learningRate: 1e-3, seed: 1, threads: 1),
                        data: data, dataChecksum: "00")
        }
        do {
            try trainer("vae_std_z20_bn", batch: 4).run(checkpointPath: path)
            Issue.record("trained with a last batch of one image")
        } catch {
            #expect("\(error)".contains("at least 2 images in every training batch"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        // Without batch norm the same split trains; with batch norm a split into batches of 3 does.
        try trainer("vae_std_z20", batch: 4).run(checkpointPath: path)
        let bn = try trainer("vae_std_z20_bn", batch: 3)
        try bn.run(checkpointPath: path)
        #expect(!bn.model.isTraining && bn.model.namedCounters.allSatisfy { $0.counter.value == 3 })
    }
}
