import Datasets
import Foundation
import Models
import Storage

/// One `vae-train` invocation: resolve the data, create the run folder, train (or resume), log.
///
/// Layout: `<outputRoot>/runs/<run>/checkpoint.safetensors` (rewritten atomically after every epoch) and
/// `train-log.jsonl` (one JSON object per finished epoch).
///
/// Safety: the job holds the run folder's `RunFolderLock` throughout. A folder that holds a checkpoint is trained
/// into only with `resume` (which continues it) or `force` (which replaces it); before a checkpoint is replaced or
/// continued, every file derived from the old one (`derivedFileNames`) is deleted, so the folder never holds files
/// of two checkpoints. A training that fails before its first checkpoint removes the run folder it created, or
/// leaves `training-failed.txt` (the error) as the only file of a folder that existed.
public struct TrainingJob {
    public var runName: String
    public var configuration: ModelConfiguration
    public var settings: TrainingSettings
    public var dataDirectory: String
    public var outputRoot: String
    /// Continue from the run's checkpoint if it has one (a finished run is left as it is).
    public var resume: Bool
    /// Replace the run's checkpoint (and everything derived from it) if it has one.
    public var force = false
    /// Wait for another process that holds the run folder's lock (else fail at once, naming it).
    public var waitForLock = true

    public init(runName: String, configuration: ModelConfiguration, settings: TrainingSettings,
                dataDirectory: String, outputRoot: String, resume: Bool, force: Bool = false) {
        self.runName = runName; self.configuration = configuration; self.settings = settings
        self.dataDirectory = dataDirectory; self.outputRoot = outputRoot; self.resume = resume; self.force = force
    }

    /// The note a training that failed before its first checkpoint leaves in a folder it did not create.
    public static let failureNoteName = "training-failed.txt"

    /// Whether a file of a run folder is derived from its checkpoint (or describes its training): evaluation
    /// results, sample sheets and plots, sampler caches, the code prior, the log and a failure note.
    public static func isDerivedFile(_ name: String) -> Bool {
        [RunFolder.resultsFileName, RunFolder.trainingLogFileName, CodePrior.fileName, failureNoteName,
         snapshotsFolderName, epochResultsFileName].contains(name)
            || name.hasSuffix(".png") || name.hasSuffix(".svg") || name.hasSuffix(".pdf")
            || (name.hasPrefix("sampler-") && name.hasSuffix(".json"))
    }

    /// Deletes the derived files of `folder` (and `checkpoint.safetensors` with `checkpoint`; the log is kept with
    /// `keepingLog`: it is the resumed checkpoint's own history, and so are its snapshots); returns their names.
    @discardableResult
    public static func removeDerivedFiles(in folder: String, checkpoint: Bool, keepingLog: Bool = false) throws -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { isDerivedFile($0) && !(keepingLog && [RunFolder.trainingLogFileName, snapshotsFolderName].contains($0)) }
            .sorted()
        for name in names + (checkpoint ? [RunFolder.checkpointFileName] : []) {
            let path = folder + "/" + name
            guard FileManager.default.fileExists(atPath: path) else { continue }
            do { try FileManager.default.removeItem(atPath: path) } catch {
                throw FileError.writeFailed(path: path, reason: "cannot delete it: " + FileError.reason(of: error))
            }
        }
        return names
    }

    public var runFolder: String { outputRoot + "/runs/" + runName }
    public var checkpointPath: String { RunFolder(path: runFolder).checkpoint }
    public var logPath: String { RunFolder(path: runFolder).trainingLog }

    /// Trains and returns the final record. `progress` receives training events, `notice` one-line remarks
    /// (e.g. that a resumed run keeps its checkpoint's settings over the ones given).
    @discardableResult
    public func run(progress: (TrainingEvent) -> Void = { _ in }, notice: (String) -> Void = { _ in }) throws -> TrainingRecord {
        try settings.validate()
        try configuration.validate()
        let train = try MNIST.load(split: .train, from: dataDirectory)
        let checksum = try MNIST.checksumOfFiles(in: dataDirectory)
        let folderExisted = FileManager.default.fileExists(atPath: runFolder)
        try FileError.createFolder(runFolder)
        let lock = try RunFolderLock(folder: runFolder, wait: waitForLock, notice: notice)
        defer { lock.release() }
        // A run killed while writing leaves its temporary files behind; they are never read, only clutter.
        AtomicFile.removeStaleTemporaries(for: checkpointPath)
        AtomicFile.removeStaleTemporaries(for: logPath)
        let hasCheckpoint = FileManager.default.fileExists(atPath: checkpointPath)
        if hasCheckpoint, !resume, !force {
            let finished = (try? Checkpoint.read(from: checkpointPath))?.training.isFinished
            throw TrainingError.wouldReplace(path: checkpointPath, finished: finished)
        }
        let trainer: Trainer
        if resume, hasCheckpoint {
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
            given.checkpointEvery = nil  // snapshots are kept beside the checkpoint, not part of its training
            if stored != given {
                notice("resuming \(runName) with its checkpoint's settings (epochs \(t.epochs), batch size \(t.batchSize), "
                       + "lr \(t.learningRate), seed \(t.seed)), not the ones given")
            }
            trainer = try Trainer(resuming: checkpoint, path: checkpointPath, data: train, dataChecksum: checksum)
            trainer.threads = settings.threads
            trainer.snapshotEvery = settings.checkpointEvery ?? Self.snapshotInterval(runFolder: runFolder)
            // The checkpoint is about to change: what was derived from it goes (the log is rewritten from it).
            if !checkpoint.training.isFinished {
                let removed = try Self.removeDerivedFiles(in: runFolder, checkpoint: false, keepingLog: true)
                if !removed.isEmpty { notice("removed \(removed.joined(separator: ", ")) of the unfinished checkpoint") }
            }
        } else {
            trainer = try Trainer(runName: runName, configuration: configuration, settings: settings,
                                  data: train, dataChecksum: checksum)
            trainer.snapshotEvery = settings.checkpointEvery
            let removed = try Self.removeDerivedFiles(in: runFolder, checkpoint: true)
            if hasCheckpoint {
                notice("--force: replaced \(checkpointPath)"
                       + (removed.isEmpty ? "" : " and removed \(removed.joined(separator: ", "))"))
            }
        }
        do {
            try trainer.run(checkpointPath: checkpointPath) { event in
                if case .epochFinished = event { try? writeLog(trainer.record) }
                progress(event)
            }
        } catch where !FileManager.default.fileExists(atPath: checkpointPath) {
            // Nothing was made: no empty folder stays behind, or one whose only file says what happened.
            let removed = !folderExisted && lock.removeFolder()
            guard case let TrainingError.diverged(run, epoch, batch, what) = error else { throw error }
            if removed {
                throw TrainingError.divergedBeforeCheckpoint(run: run, epoch: epoch, batch: batch, what: what, note: nil)
            }
            let note = runFolder + "/" + Self.failureNoteName
            let failure = TrainingError.divergedBeforeCheckpoint(run: run, epoch: epoch, batch: batch, what: what, note: note)
            try? AtomicFile.write("\(Date()): \(RunFolderLock.currentCommand)\n\(failure)\n", to: note)
            throw failure
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
