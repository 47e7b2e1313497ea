import Autodiff
import Foundation
import Storage

/// How a code prior was trained (the second stage of `vae-train` for a VQ-VAE run); stored as JSON in the
/// prior's file.
public struct CodePriorTrainingRecord: Codable, Equatable, Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var seed: UInt64
    public var threads: Int
    /// SHA-256 over the MNIST files' SHA-256s (`MNIST.checksumOfFiles`) whose codes it was trained on.
    public var dataChecksum: String
    /// Grids trained on (the training images) and evaluated on (the test images).
    public var trainGrids: Int
    public var testGrids: Int
    /// Wall time of encoding the training and test images to codes with the VQ-VAE.
    public var encodingSeconds: Double
    /// One entry per epoch.
    public var history: [CodePriorEpoch]

    public init(epochs: Int, batchSize: Int, learningRate: Double, seed: UInt64, threads: Int, dataChecksum: String,
                trainGrids: Int, testGrids: Int, encodingSeconds: Double, history: [CodePriorEpoch] = []) {
        self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate; self.seed = seed
        self.threads = threads; self.dataChecksum = dataChecksum; self.trainGrids = trainGrids
        self.testGrids = testGrids; self.encodingSeconds = encodingSeconds; self.history = history
    }

    /// Wall time of the training epochs (the optimisation and the per-epoch test NLL), in seconds.
    public var trainingSeconds: Double { history.reduce(0) { $0 + $1.seconds } }
    /// What fitting the sampler cost: encoding plus training, in seconds.
    public var totalSeconds: Double { encodingSeconds + trainingSeconds }
}

/// One epoch of code-prior training. NLLs are -log p(grid) in nats per grid (bits: divide by ln 2).
public struct CodePriorEpoch: Codable, Equatable, Sendable {
    public var epoch: Int
    /// Mean over the epoch's batches as they were trained (the parameters change during the epoch).
    public var trainNLL: Double
    /// On the test grids after the epoch.
    public var testNLL: Double
    public var seconds: Double

    public init(epoch: Int, trainNLL: Double, testNLL: Double, seconds: Double) {
        self.epoch = epoch; self.trainNLL = trainNLL; self.testNLL = testNLL; self.seconds = seconds
    }
}

/// A code prior as read from its file, with what the file says about it.
public struct CodePriorFile {
    public let prior: CodePrior
    /// SHA-256 of the bytes of the VQ-VAE checkpoint file whose codes the prior models.
    public let checkpointSHA256: String
    public let training: CodePriorTrainingRecord
}

/// Why a code-prior file cannot be used; one line each, naming the file.
public enum CodePriorError: Error, CustomStringConvertible, Equatable {
    case missing(path: String)
    case corrupt(path: String, reason: String)
    /// The prior was trained on the codes of another checkpoint (or of an earlier state of this one).
    case otherCheckpoint(path: String, recorded: String, expected: String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "no code prior at \(path); train one with 'vae-train prior RUN_FOLDER'"
        case let .corrupt(path, reason):
            return "\(path) is not a usable code prior: \(reason); train it again with 'vae-train prior RUN_FOLDER'"
        case let .otherCheckpoint(path, recorded, expected):
            return "\(path) belongs to another checkpoint (SHA-256 \(recorded.prefix(12))…, this one is \(expected.prefix(12))…); "
                + "train it again with 'vae-train prior RUN_FOLDER'"
        }
    }
}

extension CodePrior {
    /// The prior's file name in a run folder, beside `checkpoint.safetensors`.
    public static let fileName = "code-prior.safetensors"
    public static let format = "vae-toolkit-code-prior"
    public static let formatVersion = "1"

    /// Writes the parameters with metadata `format`, `format_version`, `checkpoint_sha256`, `prior_config` (JSON of
    /// the configuration), `training` (JSON of `training`), `training_seconds`, `tensor_sha256` and `header_sha256`
    /// (as a checkpoint's: `SafeTensorsArchive.headerDigest`) to `path`, atomically.
    public func write(to path: String, checkpointSHA256: String, training: CodePriorTrainingRecord) throws {
        var archive = SafeTensorsArchive()
        for (name, tensor) in namedParameters { archive.set(name, floats: tensor.data, shape: tensor.shape) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        archive.metadata = [
            "format": Self.format, "format_version": Self.formatVersion, "checkpoint_sha256": checkpointSHA256,
            "prior_config": configuration.jsonString(),
            "training": String(decoding: try encoder.encode(training), as: UTF8.self),
            "training_seconds": String(format: "%.3f", training.totalSeconds),
        ]
        archive.metadata["tensor_sha256"] = archive.tensorDataDigest()
        archive.metadata[SafeTensorsArchive.headerDigestKey] = archive.headerDigest()
        try archive.write(to: path)
    }

    /// The prior at `path`, refused unless it was trained for the checkpoint whose file bytes have SHA-256
    /// `checkpointSHA256`. Throws `CodePriorError`.
    public static func load(from path: String, checkpointSHA256: String) throws -> CodePrior {
        try readFile(from: path, checkpointSHA256: checkpointSHA256).prior
    }

    /// The prior at `path` with its training record; see `load(from:checkpointSHA256:)`.
    /// Checks, in order: the file is a safetensors file written by `write` (format, digests of tensors and header,
    /// byte-exact layout), its configuration and record parse, its tensors are exactly the network's; then that
    /// it belongs to the checkpoint. Throws `CodePriorError`.
    public static func readFile(from path: String, checkpointSHA256: String) throws -> CodePriorFile {
        guard FileManager.default.fileExists(atPath: path) else { throw CodePriorError.missing(path: path) }
        func corrupt(_ reason: String) -> CodePriorError { .corrupt(path: path, reason: reason) }
        let bytes: [UInt8]
        let archive: SafeTensorsArchive
        do {
            bytes = try SafeTensorsArchive.readFile(path)
            archive = try SafeTensorsArchive(bytes: bytes, source: path)
        } catch let error as SafeTensorsError {
            throw corrupt("not a valid safetensors file (\(error))")
        } catch {
            throw corrupt("\(error)")
        }
        let meta = archive.metadata
        guard meta["format"] == format else { throw corrupt("its metadata has no format=\(format) entry") }
        guard meta["format_version"] == formatVersion else {
            throw corrupt("format version \(meta["format_version"] ?? "none"), this build reads \(formatVersion)")
        }
        guard meta["tensor_sha256"] == archive.tensorDataDigest() else {
            throw corrupt("tensor data does not match its recorded SHA-256")
        }
        guard meta[SafeTensorsArchive.headerDigestKey] == archive.headerDigest() else {
            throw corrupt("header (metadata, tensor names and shapes) does not match its recorded SHA-256")
        }
        guard archive.serialized() == bytes else { throw corrupt("its header is not laid out as vae-train writes it") }
        let decoder = JSONDecoder()
        guard let configuration = try? decoder.decode(CodePriorConfiguration.self, from: Data((meta["prior_config"] ?? "").utf8)),
              (try? configuration.validate()) != nil else {
            throw corrupt("prior_config is missing or not a valid configuration")
        }
        guard let training = try? decoder.decode(CodePriorTrainingRecord.self, from: Data((meta["training"] ?? "").utf8)) else {
            throw corrupt("training is missing or not a training record")
        }
        guard let recorded = meta["checkpoint_sha256"] else { throw corrupt("it records no checkpoint_sha256") }
        var generator = SeededGenerator(seed: 0)
        let prior = CodePrior(configuration: configuration, generator: &generator)
        let expected = prior.namedParameters
        for (name, tensor) in expected {
            guard let shape = try? archive.shape(of: name) else { throw corrupt("tensor '\(name)' is missing") }
            guard shape == tensor.shape else { throw corrupt("'\(name)' has shape \(shape), the network needs \(tensor.shape)") }
            guard let values = try? archive.floats(name) else { throw corrupt("'\(name)' is not F32") }
            tensor.data = values
        }
        let known = Set(expected.map(\.name))
        if let extra = archive.entries.keys.sorted().first(where: { !known.contains($0) }) {
            throw corrupt("unexpected tensor '\(extra)'")
        }
        guard recorded == checkpointSHA256 else {
            throw CodePriorError.otherCheckpoint(path: path, recorded: recorded, expected: checkpointSHA256)
        }
        return CodePriorFile(prior: prior, checkpointSHA256: recorded, training: training)
    }
}
