import Autodiff
import Foundation
import Layers
import Storage

/// What a training run records about itself; stored as JSON in the checkpoint's metadata.
public struct TrainingRecord: Codable, Equatable, Sendable {
    public var runName: String
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var seed: UInt64
    public var threads: Int
    /// SHA-256 over the training files' SHA-256s (which data was used).
    public var dataChecksum: String
    /// One entry per finished epoch.
    public var history: [EpochSummary] = []

    public init(runName: String, epochs: Int, batchSize: Int, learningRate: Double, seed: UInt64, threads: Int,
                dataChecksum: String, history: [EpochSummary] = []) {
        self.runName = runName; self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate
        self.seed = seed; self.threads = threads; self.dataChecksum = dataChecksum; self.history = history
    }

    public var completedEpochs: Int { history.count }
    public var isFinished: Bool { history.count >= epochs }
    /// Training wall time in seconds, summed over epochs.
    public var wallSeconds: Double { history.reduce(0) { $0 + $1.seconds } }
}

/// Losses of one epoch, per training image (sums over the epoch divided by the number of images).
public struct EpochSummary: Codable, Equatable, Sendable {
    public var epoch: Int
    public var loss: Double
    public var reconstruction: Double
    public var regularizer: Double
    public var seconds: Double

    public init(epoch: Int, loss: Double, reconstruction: Double, regularizer: Double, seconds: Double) {
        self.epoch = epoch; self.loss = loss; self.reconstruction = reconstruction
        self.regularizer = regularizer; self.seconds = seconds
    }
}

/// A model as stored on disk: one safetensors file whose `__metadata__` says how to rebuild the model.
///
/// Metadata keys: `format` ("vae-toolkit-checkpoint"), `format_version`, `model_kind`, `model_config` (JSON of
/// `ModelConfiguration`), `training` (JSON of `TrainingRecord`), `tensor_sha256` (SHA-256 of the tensor
/// buffer, verified on load), `header_sha256` (SHA-256 of every other metadata entry and of every tensor's
/// name, dtype and shape, see `SafeTensorsArchive.headerDigest()`; format version 2). Tensors: the model's parameters under dotted names
/// (`encoder.fc1.weight`, PyTorch shapes) and buffers (float32; batch norm's `num_batches_tracked` int64 scalars, as
/// PyTorch's state_dict; files without batch norm hold none), plus any extra state under `state.` (optimizer moments,
/// generator) that only resuming reads.
///
/// Integrity: reading refuses a file whose tensor bytes or header do not match their digests, or whose bytes
/// are not exactly what ``write(model:training:state:extraMetadata:to:)`` produces for its contents (the writer
/// is deterministic), so any changed, missing or extra byte is detected.
public struct Checkpoint {
    public static let format = "vae-toolkit-checkpoint"
    /// Version 2 added `header_sha256`; version 1 files (tensor digest only) are still read.
    public static let formatVersion = "2"
    public static let readableFormatVersions: Set<String> = ["1", "2"]
    public static let statePrefix = "state."
    static let tensorDigestKey = "tensor_sha256"
    static let headerDigestKey = SafeTensorsArchive.headerDigestKey

    public let model: any GenerativeModel
    public let training: TrainingRecord
    /// Tensors under `state.`, with the prefix removed.
    public let state: [String: (shape: [Int], values: [Float])]
    /// Extra metadata entries (beyond the ones above).
    public let extraMetadata: [String: String]

    /// Writes `model` with its training record (and resume state) to `path` atomically.
    public static func write(model: any GenerativeModel, training: TrainingRecord,
                             state: [(name: String, shape: [Int], values: [Float])] = [],
                             extraMetadata: [String: String] = [:], to path: String) throws {
        var archive = SafeTensorsArchive()
        for (name, tensor) in model.namedParameters + model.namedBuffers {
            archive.set(name, floats: tensor.data, shape: tensor.shape)
        }
        for (name, counter) in model.namedCounters { archive.set(name, int64s: [counter.value], shape: []) }
        for entry in state { archive.set(statePrefix + entry.name, floats: entry.values, shape: entry.shape) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var metadata = extraMetadata
        metadata["format"] = format
        metadata["format_version"] = formatVersion
        metadata["model_kind"] = model.configuration.kind.rawValue
        metadata["model_config"] = model.configuration.jsonString()
        metadata["training"] = String(decoding: try encoder.encode(training), as: UTF8.self)
        archive.metadata = metadata
        archive.metadata[tensorDigestKey] = archive.tensorDataDigest()
        archive.metadata[headerDigestKey] = archive.headerDigest()
        try archive.write(to: path)
    }

    /// Reads a checkpoint and rebuilds its model from the file alone.
    public static func read(from path: String) throws -> Checkpoint {
        let bytes = try SafeTensorsArchive.readFile(path)
        let archive = try SafeTensorsArchive(bytes: bytes, source: path)
        let meta = archive.metadata
        guard meta["format"] == format else {
            throw ModelError.unsupportedCheckpoint(path: path, reason: "its metadata has no format=\(format) entry (not written by vae-train?)")
        }
        guard let version = meta["format_version"], readableFormatVersions.contains(version) else {
            throw ModelError.unsupportedCheckpoint(path: path, reason: "format version \(meta["format_version"] ?? "none"), this build reads \(readableFormatVersions.sorted().joined(separator: " and "))")
        }
        guard let digest = meta[tensorDigestKey], digest == archive.tensorDataDigest() else {
            throw ModelError.unsupportedCheckpoint(path: path, reason: "tensor data does not match its recorded SHA-256 (the file is corrupt)")
        }
        guard let kindName = meta["model_kind"], ModelFactory.family(of: ModelKind(rawValue: kindName)) != nil else {
            throw ModelError.unsupportedCheckpoint(path: path, reason: "unknown model kind '\(meta["model_kind"] ?? "")'")
        }
        if version != "1" || meta[headerDigestKey] != nil {
            guard meta[headerDigestKey] == archive.headerDigest() else {
                throw ModelError.unsupportedCheckpoint(path: path, reason: "header (metadata, tensor names and shapes) does not match its recorded SHA-256 (the file is corrupt)")
            }
        }
        // The writer is deterministic, so a file it wrote re-serializes to the same bytes. This catches what the
        // digests cannot: changes to the header's layout that keep its meaning (e.g. padding turned into tabs).
        guard archive.serialized() == bytes else {
            throw ModelError.unsupportedCheckpoint(path: path, reason: "its header is not laid out as vae-train writes it (the file was altered or is corrupt)")
        }
        let decoder = JSONDecoder()
        let configuration: ModelConfiguration
        let training: TrainingRecord
        do {
            configuration = try decoder.decode(ModelConfiguration.self, from: Data((meta["model_config"] ?? "").utf8))
            training = try decoder.decode(TrainingRecord.self, from: Data((meta["training"] ?? "").utf8))
        } catch {
            throw ModelError.unsupportedCheckpoint(path: path, reason: "model_config or training metadata is not valid JSON of the expected form")
        }
        var generator = SeededGenerator(seed: 0)
        let model = try ModelFactory.make(configuration, generator: &generator)
        let expected = model.namedParameters + model.namedBuffers
        for (name, tensor) in expected {
            guard archive.entries[name] != nil else {
                throw ModelError.parameterMismatch(path: path, reason: "missing tensor '\(name)'")
            }
            let shape = try archive.shape(of: name)
            guard shape == tensor.shape else {
                throw ModelError.parameterMismatch(path: path, reason: "'\(name)' has shape \(shape), the model needs \(tensor.shape)")
            }
            tensor.data = try archive.floats(name)
        }
        for (name, counter) in model.namedCounters {
            guard archive.entries[name] != nil else {
                throw ModelError.parameterMismatch(path: path, reason: "missing tensor '\(name)'")
            }
            let shape = try archive.shape(of: name)
            guard shape == [], let value = try? archive.int64s(name).first else {
                throw ModelError.parameterMismatch(path: path, reason: "'\(name)' must be an int64 scalar, got shape \(shape), dtype \(archive.entries[name]!.dtype.rawValue)")
            }
            counter.value = value
        }
        let known = Set(expected.map(\.name) + model.namedCounters.map(\.name))
        var state: [String: (shape: [Int], values: [Float])] = [:]
        for name in archive.entries.keys where !known.contains(name) {
            guard name.hasPrefix(statePrefix) else {
                throw ModelError.parameterMismatch(path: path, reason: "unexpected tensor '\(name)'")
            }
            state[String(name.dropFirst(statePrefix.count))] = (try archive.shape(of: name), try archive.floats(name))
        }
        let reserved: Set<String> = ["format", "format_version", "model_kind", "model_config", "training",
                                     tensorDigestKey, headerDigestKey]
        return Checkpoint(model: model, training: training, state: state,
                          extraMetadata: meta.filter { !reserved.contains($0.key) })
    }
}
