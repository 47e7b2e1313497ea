import Datasets
import Foundation
import Models
import Storage

/// One `vae-train` invocation: resolve the data, create the run folder, train (or resume), log.
///
/// Layout: `<outputRoot>/runs/<run>/checkpoint.safetensors` (rewritten atomically after every epoch) and
/// `train-log.jsonl` (one JSON object per finished epoch).
public struct TrainingJob {
    public var runName: String
    public var configuration: ModelConfiguration
    public var settings: TrainingSettings
    public var dataDirectory: String
    public var outputRoot: String
    /// Continue from the run's checkpoint if it has one (a finished run is left as it is).
    public var resume: Bool

    public init(runName: String, configuration: ModelConfiguration, settings: TrainingSettings,
                dataDirectory: String, outputRoot: String, resume: Bool) {
        self.runName = runName; self.configuration = configuration; self.settings = settings
        self.dataDirectory = dataDirectory; self.outputRoot = outputRoot; self.resume = resume
    }

    public var runFolder: String { outputRoot + "/runs/" + runName }
    public var checkpointPath: String { runFolder + "/checkpoint.safetensors" }
    public var logPath: String { runFolder + "/train-log.jsonl" }

    /// Trains and returns the final record. `progress` receives training events, `notice` one-line remarks
    /// (e.g. that a resumed run keeps its checkpoint's settings over the ones given).
    @discardableResult
    public func run(progress: (TrainingEvent) -> Void = { _ in }, notice: (String) -> Void = { _ in }) throws -> TrainingRecord {
        try settings.validate()
        try configuration.validate()
        let train = try MNIST.load(split: .train, from: dataDirectory)
        let checksum = try MNIST.checksumOfFiles(in: dataDirectory)
        do {
            try FileManager.default.createDirectory(atPath: runFolder, withIntermediateDirectories: true)
        } catch {
            throw FileError.cannotCreate(path: runFolder, reason: error.localizedDescription)
        }
        // A run killed while writing leaves its temporary files behind; they are never read, only clutter.
        AtomicFile.removeStaleTemporaries(for: checkpointPath)
        AtomicFile.removeStaleTemporaries(for: logPath)
        let trainer: Trainer
        if resume, FileManager.default.fileExists(atPath: checkpointPath) {
            let checkpoint = try Checkpoint.read(from: checkpointPath)
            guard checkpoint.model.configuration == configuration else {
                throw TrainingError.checkpointMismatch(path: checkpointPath, reason: "it holds a different model configuration")
            }
            let t = checkpoint.training
            let stored = TrainingSettings(epochs: t.epochs, batchSize: t.batchSize, learningRate: t.learningRate,
                                          seed: t.seed, threads: t.threads)
            // The thread count is the command line's: it does not change the result.
            var given = settings
            given.threads = t.threads
            if stored != given {
                notice("resuming \(runName) with its checkpoint's settings (epochs \(t.epochs), batch size \(t.batchSize), "
                       + "lr \(t.learningRate), seed \(t.seed)), not the ones given")
            }
            trainer = try Trainer(resuming: checkpoint, path: checkpointPath, data: train, dataChecksum: checksum)
            trainer.threads = settings.threads
        } else {
            trainer = try Trainer(runName: runName, configuration: configuration, settings: settings,
                                  data: train, dataChecksum: checksum)
        }
        try trainer.run(checkpointPath: checkpointPath) { event in
            if case .epochFinished = event { try? writeLog(trainer.record) }
            progress(event)
        }
        try writeLog(trainer.record)
        return trainer.record
    }

    /// Rewrites the JSON-lines log from the record (atomically; the record is the source of truth).
    func writeLog(_ record: TrainingRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var lines = ""
        for epoch in record.history {
            lines += String(decoding: try encoder.encode(epoch), as: UTF8.self) + "\n"
        }
        try AtomicFile.write(lines, to: logPath)
    }
}
