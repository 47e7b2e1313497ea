import Autodiff
import Foundation
import Models
import Storage
import Testing
import TestSupport

/// Damaged checkpoints: every truncation and every changed byte must be refused by `Checkpoint.read` with a
/// one-line error naming the file, never accepted and never a crash.
@Suite struct CorruptCheckpointTests {
    /// A folder removed when the test ends.
    final class Scratch {
        let path = NSTemporaryDirectory() + "corrupt-ckpt-" + UUID().uuidString
        init() { try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// A checkpoint as the trainer writes it (parameters, Adam moments under `state.`, resume metadata, a training
    /// record with history), for a model of `configuration`. Returns its bytes and the header's end offset.
    static func makeCheckpoint(_ configuration: ModelConfiguration, at path: String) throws -> (bytes: [UInt8], headerEnd: Int) {
        var g = SeededGenerator(seed: 11)
        let model = try ModelFactory.make(configuration, generator: &g)
        var state: [(name: String, shape: [Int], values: [Float])] = []
        for (name, tensor) in model.namedParameters {
            state.append(("adam.m." + name, tensor.shape, (0..<tensor.count).map { _ in g.nextUniform() }))
            state.append(("adam.v." + name, tensor.shape, (0..<tensor.count).map { _ in g.nextUniform() }))
        }
        let record = TrainingRecord(runName: "vae_std_z20", epochs: 3, batchSize: 32, learningRate: 1e-3, seed: 7, threads: 1,
                                    dataChecksum: String(repeating: "ab", count: 32),
                                    history: [EpochSummary(epoch: 1, loss: 210.5, reconstruction: 200.25, regularizer: 10.25, seconds: 1.5)])
        try Checkpoint.write(model: model, training: record, state: state,
                             extraMetadata: ["resume": "{\"adamStep\":8,\"generator\":[1,2,3,4]}"], to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var headerLength = 0
        for index in 0..<8 { headerLength |= Int(bytes[index]) << (8 * index) }
        return (bytes, 8 + headerLength)
    }

    /// A small MLP VAE, so that every byte of its checkpoint can be tried.
    static let tiny = ModelConfiguration(kind: .mlpVAE, imageSize: 16, hiddenSize: 6, latentSize: 2)

    /// Writes `bytes` to `path` and expects `Checkpoint.read` to refuse it with a clear message. Returns the
    /// problem, or nil when the file was refused properly.
    static func refusal(of bytes: ArraySlice<UInt8>, at path: String, case label: String) -> String? {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            return "\(label): could not write the test file: \(error)"
        }
        do {
            _ = try Checkpoint.read(from: path)
            return "\(label): accepted"
        } catch {
            let message = "\(error)"
            if message.contains("\n") { return "\(label): message is not one line: \(message)" }
            if !message.contains(path) { return "\(label): message does not name the file: \(message)" }
            if !(error is ModelError || error is SafeTensorsError || error is FileError) {
                return "\(label): unexpected error type \(type(of: error)): \(message)"
            }
            return nil
        }
    }

    @Test func intactCheckpointReads() throws {
        let scratch = Scratch()
        let path = scratch.path + "/checkpoint.safetensors"
        _ = try Self.makeCheckpoint(Self.tiny, at: path)
        let checkpoint = try Checkpoint.read(from: path)
        #expect(checkpoint.model.configuration == Self.tiny)
        #expect(checkpoint.training.history.count == 1)
        #expect(checkpoint.extraMetadata["resume"] != nil && checkpoint.extraMetadata["header_sha256"] == nil)
    }

    /// Cut the file at every length from 0 to its size minus one: all refused.
    @Test func everyTruncationIsRefused() throws {
        let scratch = Scratch()
        let good = scratch.path + "/good.safetensors", path = scratch.path + "/checkpoint.safetensors"
        let (bytes, headerEnd) = try Self.makeCheckpoint(Self.tiny, at: good)
        var problems: [String] = []
        for length in 0..<bytes.count {
            if let problem = Self.refusal(of: bytes[0..<length], at: path, case: "truncated to \(length) bytes") {
                problems.append(problem)
            }
        }
        #expect(problems.isEmpty, "\(problems.count) of \(bytes.count) truncations not refused properly: \(problems.prefix(5))")
        print("CorruptCheckpointTests: \(bytes.count) truncations of a \(bytes.count)-byte checkpoint (header \(headerEnd) bytes) tried, \(bytes.count - problems.count) refused")
    }

    /// Change every byte of the file in turn (XOR with a seeded random non-zero value): all refused.
    @Test func everyChangedByteIsRefused() throws {
        let scratch = Scratch()
        let good = scratch.path + "/good.safetensors", path = scratch.path + "/checkpoint.safetensors"
        let (bytes, _) = try Self.makeCheckpoint(Self.tiny, at: good)
        var g = SeededGenerator(seed: 2024)
        var problems: [String] = []
        for offset in 0..<bytes.count {
            var damaged = bytes
            let mask = UInt8(1 + g.boundedDraw(255))
            damaged[offset] ^= mask
            if let problem = Self.refusal(of: damaged[...], at: path, case: "byte \(offset) xor 0x\(String(mask, radix: 16))") {
                problems.append(problem)
            }
        }
        #expect(problems.isEmpty, "\(problems.count) of \(bytes.count) changed bytes not refused properly: \(problems.prefix(5))")
        print("CorruptCheckpointTests: \(bytes.count) single-byte changes tried, \(bytes.count - problems.count) refused")
    }

    /// Several random bytes changed at once, and single bits flipped, at seeded random places: all refused.
    @Test func randomDamageIsRefused() throws {
        let scratch = Scratch()
        let good = scratch.path + "/good.safetensors", path = scratch.path + "/checkpoint.safetensors"
        let (bytes, _) = try Self.makeCheckpoint(Self.tiny, at: good)
        var g = SeededGenerator(seed: 99)
        var problems: [String] = []
        let cases = 500
        for index in 0..<cases {
            var damaged = bytes
            if index % 2 == 0 {
                let bit = Int(g.boundedDraw(UInt64(bytes.count * 8)))
                damaged[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            } else {
                for _ in 0..<(2 + Int(g.boundedDraw(6))) {
                    damaged[Int(g.boundedDraw(UInt64(bytes.count)))] = UInt8(truncatingIfNeeded: g.next())
                }
                if damaged == bytes { continue }
            }
            if let problem = Self.refusal(of: damaged[...], at: path, case: "random damage #\(index)") {
                problems.append(problem)
            }
        }
        #expect(problems.isEmpty, "\(problems.count) of \(cases) damaged files not refused properly: \(problems.prefix(5))")
        print("CorruptCheckpointTests: \(cases) random bit flips / multi-byte changes tried, \(cases - problems.count) refused")
    }

    /// A full-size study checkpoint: truncated at every offset of its header and at offsets in its data, and with
    /// seeded random bytes changed in header and data.
    @Test func fullSizeCheckpointTruncationsAndFlipsAreRefused() throws {
        let scratch = Scratch()
        let good = scratch.path + "/good.safetensors", path = scratch.path + "/checkpoint.safetensors"
        let (bytes, headerEnd) = try Self.makeCheckpoint(try ShippedStudy.configuration("vae_std_z20"), at: good)
        var problems: [String] = []
        var tried = 0
        var lengths = Array(0...headerEnd)
        let dataSize = bytes.count - headerEnd
        lengths += [1, 4, 5, dataSize / 3, dataSize / 2, dataSize - 4, dataSize - 1].map { headerEnd + $0 }
        for length in lengths {
            tried += 1
            if let problem = Self.refusal(of: bytes[0..<length], at: path, case: "truncated to \(length) bytes") {
                problems.append(problem)
            }
        }
        var g = SeededGenerator(seed: 7)
        for index in 0..<24 {
            var damaged = bytes
            let offset = index % 2 == 0 ? Int(g.boundedDraw(UInt64(headerEnd))) : headerEnd + Int(g.boundedDraw(UInt64(dataSize)))
            damaged[offset] ^= UInt8(1 + g.boundedDraw(255))
            tried += 1
            if let problem = Self.refusal(of: damaged[...], at: path, case: "byte \(offset) changed") { problems.append(problem) }
        }
        // Extra bytes after the data are refused too.
        tried += 1
        if let problem = Self.refusal(of: (bytes + [0, 0, 0, 0])[...], at: path, case: "4 bytes appended") { problems.append(problem) }
        #expect(problems.isEmpty, "\(problems.count) of \(tried) cases not refused properly: \(problems.prefix(5))")
        print("CorruptCheckpointTests: full-size checkpoint (\(bytes.count) bytes, header \(headerEnd)): \(tried) cases tried, \(tried - problems.count) refused")
    }

    /// Format version 1 files (no header digest) still read; but a version 1 file that carries a header digest
    /// must match it, so turning "2" into "1" does not bypass the check.
    @Test func formatVersionOneIsReadAndCannotBypassTheHeaderDigest() throws {
        let scratch = Scratch()
        let path = scratch.path + "/checkpoint.safetensors"
        _ = try Self.makeCheckpoint(Self.tiny, at: path)
        var archive = try SafeTensorsArchive(contentsOf: path)
        archive.metadata["format_version"] = "1"
        try archive.write(to: path)
        #expect(throws: ModelError.self) { try Checkpoint.read(from: path) }
        archive.metadata["header_sha256"] = nil
        try archive.write(to: path)
        let legacy = try Checkpoint.read(from: path)
        #expect(legacy.model.configuration == Self.tiny)
    }
}
