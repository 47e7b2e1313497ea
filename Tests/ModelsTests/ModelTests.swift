import Autodiff
import Foundation
import Models
import Optimizers
import Storage
import Testing
import TestSupport

/// Properties every model of the study must have, run for each run name this build knows.
@Suite struct ModelTests {
    static func tinyBatch(_ count: Int, pixels: Int = 784, seed: UInt64 = 5) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor(shape: [count, pixels], data: (0..<(count * pixels)).map { _ in g.nextUniform() < 0.2 ? g.nextUniform() : 0 })
    }

    @Test(arguments: ShippedStudy.runNames)
    func shapesLossAndSampling(run: String) throws {
        var g = SeededGenerator(seed: 1)
        let model = try ModelFactory.make(try ShippedStudy.configuration(run), generator: &g)
        let x = Self.tinyBatch(6)
        let codes = model.encode(x)
        #expect(codes.shape[0] == 6 && codes.rank == 2)
        #expect(model.decode(codes).shape == [6, 784])
        #expect(model.reconstruct(x).shape == [6, 784])
        let output = model.loss(x, generator: &g)
        #expect(output.total.scalar.isFinite && output.reconstruction > 0 && output.regularizer >= 0)
        let samples = model.sample(count: 5, generator: &g)
        #expect(samples.shape == [5, 784])
        #expect(samples.data.allSatisfy { $0 >= 0 && $0 <= 1 })
        // Models with a likelihood bound report one per image; WAE and VQ-VAE define none.
        if let elbo = model.negativeELBO(x, generator: &g) {
            #expect(elbo.count == 6 && elbo.allSatisfy { $0.isFinite && $0 > 0 })
        } else {
            #expect(!(model is any ImportanceWeightedModel), "\(run) should define a negative ELBO")
        }
    }

    @Test(arguments: ShippedStudy.runNames)
    func everyParameterChangesAfterOneStep(run: String) throws {
        var g = SeededGenerator(seed: 2)
        let model = try ModelFactory.make(try ShippedStudy.configuration(run), generator: &g)
        let before = model.namedParameters.map { $0.tensor.data }
        let adam = Adam(parameters: model.parameters)
        model.whileTraining { model.loss(Self.tinyBatch(8), generator: &g) }.total.backward()
        adam.update()
        for ((name, tensor), old) in zip(model.namedParameters, before) {
            #expect(tensor.data != old, "\(name) did not change")
        }
    }

    @Test func betaWeightsTheKLTerm() throws {
        var g1 = SeededGenerator(seed: 3), g2 = SeededGenerator(seed: 3)
        let plain = try ModelFactory.make(try ShippedStudy.configuration("vae_std_z20"), generator: &g1)
        let beta = try ModelFactory.make(try ShippedStudy.configuration("beta_vae_4"), generator: &g2)
        let x = Self.tinyBatch(4)
        var n1 = SeededGenerator(seed: 9), n2 = SeededGenerator(seed: 9)
        let a = plain.loss(x, generator: &n1), b = beta.loss(x, generator: &n2)
        #expect(a.regularizer == b.regularizer && a.reconstruction == b.reconstruction)
        #expect(abs(Double(b.total.scalar) - (b.reconstruction + 4 * b.regularizer)) < 1e-2)
    }

    @Test(arguments: ShippedStudy.runNames)
    func checkpointRoundTripGivesIdenticalOutputs(run: String) throws {
        var g = SeededGenerator(seed: 4)
        let model = try ModelFactory.make(try ShippedStudy.configuration(run), generator: &g)
        let path = NSTemporaryDirectory() + "ckpt-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let record = TrainingRecord(runName: run, epochs: 1, batchSize: 4, learningRate: 1e-3, seed: 4, threads: 1,
                                    dataChecksum: "abc", history: [EpochSummary(epoch: 1, loss: 1, reconstruction: 1, regularizer: 0, seconds: 0.5)])
        try Checkpoint.write(model: model, training: record, to: path)
        let loaded = try Checkpoint.read(from: path)
        #expect(loaded.training == record)
        #expect(loaded.model.configuration == model.configuration)
        let x = Self.tinyBatch(3)
        #expect(loaded.model.reconstruct(x).data == model.reconstruct(x).data)
        var s1 = SeededGenerator(seed: 8), s2 = SeededGenerator(seed: 8)
        #expect(loaded.model.sample(count: 2, generator: &s1).data == model.sample(count: 2, generator: &s2).data)
        // Every parameter and buffer is stored under its name with its shape (PyTorch layout).
        let archive = try SafeTensorsArchive(contentsOf: path)
        for (name, tensor) in model.namedParameters + model.namedBuffers {
            #expect(try archive.shape(of: name) == tensor.shape, "\(name)")
        }
    }

    @Test func corruptedCheckpointsAreRefused() throws {
        var g = SeededGenerator(seed: 4)
        let model = try ModelFactory.make(try ShippedStudy.configuration("vae_std_z20"), generator: &g)
        let path = NSTemporaryDirectory() + "ckpt-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let record = TrainingRecord(runName: "vae_std_z20", epochs: 1, batchSize: 4, learningRate: 1e-3, seed: 4, threads: 1, dataChecksum: "abc")
        try Checkpoint.write(model: model, training: record, to: path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 10] ^= 0x40   // one flipped bit in the tensor data
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: ModelError.self) { try Checkpoint.read(from: path) }
        do { _ = try Checkpoint.read(from: path) } catch {
            #expect("\(error)".contains("SHA-256") && "\(error)".contains(path))
        }

        // A different format version or an unknown model kind is refused with a reason.
        for (key, value, expected) in [("format_version", "99", "format version 99"), ("model_kind", "transformer", "unknown model kind")] {
            var archive = SafeTensorsArchive()
            for (name, tensor) in model.namedParameters { archive.set(name, floats: tensor.data, shape: tensor.shape) }
            archive.metadata = ["format": Checkpoint.format, "format_version": Checkpoint.formatVersion, "model_kind": "mlp_vae",
                                "model_config": model.configuration.jsonString(), "training": "{}"]
            archive.metadata[key] = value
            archive.metadata["tensor_sha256"] = archive.tensorDataDigest()
            try archive.write(to: path)
            do { _ = try Checkpoint.read(from: path); Issue.record("accepted \(key)=\(value)") } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
    }
}
