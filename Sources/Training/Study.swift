import Autodiff
import Datasets
import Dispatch
import Foundation
import LinearAlgebra
import Models
import Storage
import Synchronization

/// The study as data: every run with its full model configuration and training settings, and the
/// reference study's published test MSE where it has one. Read from `fixtures/study.json`.
public struct Study: Codable, Equatable, Sendable {
    public struct Run: Codable, Equatable, Sendable {
        public var name: String
        public var model: ModelConfiguration
        public var training: TrainingSettings
        /// The reference study's test reconstruction MSE (nil where it published none).
        public var referenceMSE: Double?
    }

    public var title: String
    public var runs: [Run]

    /// The study file's name among the toolkit's assets (`ToolkitAssets`).
    public static let assetName = "study.json"

    /// The shipped study file: installed beside the executable, in the checkout holding `folder`, or in the checkout
    /// the executable was built in (`ToolkitAssets`); the first place searched when it is in none of them.
    public static func defaultPath(from folder: String = FileManager.default.currentDirectoryPath) -> String {
        let (path, searched) = ToolkitAssets.locate(assetName, currentDirectory: folder)
        return path ?? searched.first ?? folder + "/fixtures/study.json"
    }

    public static func load(from path: String) throws -> Study {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw StudyError.cannotRead(path: path)
        }
        let study: Study
        do { study = try JSONDecoder().decode(Study.self, from: data) } catch {
            throw StudyError.invalid(path: path, reason: "not a study file (\(Self.describe(error)))")
        }
        var seen = Set<String>()
        for run in study.runs {
            guard seen.insert(run.name).inserted else { throw StudyError.invalid(path: path, reason: "run '\(run.name)' appears twice") }
            do { try run.model.validate(); try run.training.validate() } catch {
                throw StudyError.invalid(path: path, reason: "run '\(run.name)': \(error)")
            }
        }
        return study
    }

    /// The runs named in `only` (all runs when nil), in study order; unknown names are an error.
    public func runs(only names: [String]?) throws -> [Run] {
        guard let names else { return runs }
        let known = Set(runs.map(\.name))
        if let unknown = names.first(where: { !known.contains($0) }) {
            throw StudyError.unknownRun(name: unknown, known: runs.map(\.name))
        }
        return runs.filter { names.contains($0.name) }
    }

    /// Each of `runs` repeated for training seeds `1...seeds`, named `<run>-s<seed>`; with `seeds == nil`
    /// the runs are returned unchanged (one run each, with the seed of the study file).
    public static func seeded(_ runs: [Run], seeds: Int?) -> [Run] {
        guard let seeds else { return runs }
        precondition(seeds >= 1, "seeds must be at least 1, got \(seeds)")
        return runs.flatMap { run in
            (1...seeds).map { seed in
                var copy = run
                copy.name = seededName(run.name, seed: UInt64(seed))
                copy.training.seed = UInt64(seed)
                return copy
            }
        }
    }

    /// `<run>-s<seed>`, the folder name of one seed of a run.
    public static func seededName(_ name: String, seed: UInt64) -> String { "\(name)-s\(seed)" }

    /// Splits `<run>-s<seed>` into the run and its seed; a name without that suffix gives `(name, nil)`.
    public static func splitSeededName(_ name: String) -> (run: String, seed: UInt64?) {
        guard let dash = name.range(of: "-s", options: .backwards) else { return (name, nil) }
        let digits = name[dash.upperBound...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let seed = UInt64(digits)
        else { return (name, nil) }
        return (String(name[..<dash.lowerBound]), seed)
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing '\(key.stringValue)' at \(context.codingPath.map { $0.stringValue }.joined(separator: "."))"
        case DecodingError.typeMismatch(_, let context), DecodingError.dataCorrupted(let context):
            return "bad value at \(context.codingPath.map { $0.stringValue }.joined(separator: "."))"
        default:
            return "invalid JSON"
        }
    }
}

public enum StudyError: Error, CustomStringConvertible, Equatable {
    case cannotRead(path: String)
    case invalid(path: String, reason: String)
    case unknownRun(name: String, known: [String])
    case taskIndexOutOfRange(index: Int, count: Int)
    case badTaskIndex(variable: String, value: String)

    public var description: String {
        switch self {
        case .cannotRead(let path): return "cannot read the study file \(path) (pass --study PATH)"
        case let .invalid(path, reason): return "\(path): \(reason)"
        case let .unknownRun(name, known): return "the study has no run '\(name)'; its runs: \(known.joined(separator: ", "))"
        case let .taskIndexOutOfRange(index, count):
            return "task index \(index) is out of range: this study has \(count) task\(count == 1 ? "" : "s")"
                + (count > 0 ? " (0...\(count - 1))" : "") + "; --list-tasks prints them"
        case let .badTaskIndex(variable, value):
            return "\(variable) is '\(value)', not a task index (a whole number from 0); unset it or pass --task-index"
        }
    }
}

/// `vae-train sweep`: trains every run of the study that has no finished checkpoint for its exact
/// settings. A run with an unfinished checkpoint of the same settings resumes; a finished run with other
/// settings is moved aside (`<run>.replaced-<time>`) and trained again, so no finished work is lost.
/// A VQ-VAE run then gets its second stage, the code prior (`CodePriorTraining`), unless its folder already
/// holds a prior that belongs to its checkpoint.
public struct StudySweep {
    public var study: Study
    public var dataDirectory: String
    public var outputRoot: String
    /// Epochs, batch size and learning rate of the code-prior stage; its seed and threads are the run's.
    public var priorSettings = CodePriorTraining.defaultSettings
    /// Runs trained side by side (`vae-train sweep --jobs`), each with max(1, threads / jobs) worker threads. On two
    /// cores two one-thread runs side by side finish sooner than two-thread runs one after the other: the two workers
    /// of one step wait for each other at every product, two runs never do (measured in notebooks-md/performance.md).
    public var jobs = 1
    /// Wait for other processes that hold a run folder's lock (else fail at once, naming them).
    public var waitForLock = true

    public init(study: Study, dataDirectory: String, outputRoot: String) {
        self.study = study; self.dataDirectory = dataDirectory; self.outputRoot = outputRoot
    }

    public enum Decision: Equatable { case skip, resume, train, replace }

    /// What the sweep will do with `run` given what is on disk.
    public func decision(for run: Study.Run, dataChecksum: String) -> Decision {
        let job = job(for: run, resume: true)
        guard FileManager.default.fileExists(atPath: job.checkpointPath) else { return .train }
        guard let checkpoint = try? Checkpoint.read(from: job.checkpointPath) else { return .replace }
        // A checkpoint imported from elsewhere (vae-eval import) is the user's: never trained over.
        if CheckpointImport.isImported(checkpoint) { return .skip }
        let t = checkpoint.training
        let sameSettings = checkpoint.model.configuration == run.model && t.dataChecksum == dataChecksum
            && t.epochs == run.training.epochs && t.batchSize == run.training.batchSize
            && t.learningRate == run.training.learningRate && t.seed == run.training.seed
        // Not the thread count: it does not change the result (and `jobs` trains with fewer threads per run).
        if !sameSettings { return .replace }
        return t.isFinished ? .skip : .resume
    }

    func job(for run: Study.Run, resume: Bool) -> TrainingJob {
        TrainingJob(runName: run.name, configuration: run.model, settings: run.training,
                    dataDirectory: dataDirectory, outputRoot: outputRoot, resume: resume)
    }

    /// Runs the sweep over `runs`; `log` receives one line per decision (from any thread, one call at a time).
    ///
    /// With `jobs` > 1 the runs are trained side by side, largest first (`estimatedCost`), each with
    /// max(1, threads / jobs) worker threads. The checkpoints are the same as one run after the other (training gives
    /// the same bits for any thread count); only the wall time changes. On an error the other jobs finish the run they
    /// are on, start no new one, and the first error is thrown.
    public func run(_ runs: [Study.Run], log: (String) -> Void, progress: (String) -> (TrainingEvent) -> Void) throws {
        precondition(jobs >= 1, "StudySweep.jobs must be >= 1, got \(jobs)")
        let checksum = try MNIST.checksumOfFiles(in: dataDirectory)
        let logLock = Mutex(())
        func say(_ line: String) { logLock.withLock { _ in log(line) } }
        // Decide first, one run after the other (a replaced run's folder is moved aside here).
        var pending: [(run: Study.Run, train: Bool, resume: Bool)] = []
        for run in runs {
            let decision = decision(for: run, dataChecksum: checksum)
            switch decision {
            case .skip:
                say("\(run.name): finished checkpoint with these settings, skipped")
            case .resume:
                say("\(run.name): resuming")
            case .train:
                say("\(run.name): training")
            case .replace:
                let folder = job(for: run, resume: false).runFolder
                let aside = folder + ".replaced-\(Int(Date().timeIntervalSince1970))"
                do { try FileManager.default.moveItem(atPath: folder, toPath: aside) } catch {
                    throw FileError.writeFailed(path: aside, reason: "cannot move \(folder) there: " + FileError.reason(of: error))
                }
                say("\(run.name): settings changed; previous run moved to \(aside), training")
            }
            if decision != .skip || Self.hasCodePriorStage(run) {
                pending.append((run, decision != .skip, decision == .resume))
            }
        }
        // Progress over the whole sweep: after each run, the runs left and an ETA from the wall time so far, weighting
        // each run by its estimated cost times its epochs.
        let weights = pending.map { $0.train ? Double(max(1, Self.estimatedCost(of: $0.run))) * Double($0.run.training.epochs) : 1 }
        let totalWeight = weights.reduce(0, +)
        let started = Date()
        let finished = Mutex((runs: 0, weight: 0.0))
        func reportFinished(_ index: Int) {
            let (done, weight) = finished.withLock { state -> (Int, Double) in
                state.runs += 1
                state.weight += weights[index]
                return (state.runs, state.weight)
            }
            let left = pending.count - done
            let eta = left == 0 ? "" : ", ETA " + durationText(Date().timeIntervalSince(started) * (totalWeight - weight) / max(weight, 1))
            say("\(pending[index].run.name): done; \(done) of \(pending.count.counted("run")) done, \(left) left" + eta)
        }
        func complete(_ item: (run: Study.Run, train: Bool, resume: Bool), threads: Int) throws {
            // Resume even a run decided as new: a sweep running at the same time may have started it meanwhile.
            var job = job(for: item.run, resume: true)
            job.settings.threads = threads
            job.waitForLock = waitForLock
            if item.train { try job.run(progress: progress(item.run.name), notice: { say("\(item.run.name): " + $0) }) }
            if Self.hasCodePriorStage(item.run) {
                try trainPriorIfNeeded(item.run, runFolder: job.runFolder, threads: threads, log: say)
            }
        }
        if jobs == 1 || pending.count <= 1 {
            for (index, item) in pending.enumerated() {
                try complete(item, threads: item.run.training.threads)
                reportFinished(index)
            }
            return
        }
        let costs = weights
        let order = pending.indices.sorted { costs[$0] > costs[$1] || (costs[$0] == costs[$1] && $0 < $1) }
        let next = Mutex(0)
        let firstError = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: min(jobs, pending.count)) { _ in
            while true {
                let taken: Int? = next.withLock { index in
                    guard index < order.count, firstError.withLock({ $0 == nil }) else { return nil }
                    index += 1
                    return order[index - 1]
                }
                guard let taken else { return }
                let item = pending[taken]
                do {
                    try complete(item, threads: max(1, item.run.training.threads / jobs))
                    reportFinished(taken)
                } catch {
                    firstError.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        if let error = firstError.withLock({ $0 }) { throw error }
    }

    /// The BLAS work of one loss evaluation of `run`'s model on 8 blank images: a rough cost that lets `jobs`
    /// start the largest runs first, so that the jobs end together.
    static func estimatedCost(of run: Study.Run) -> Int {
        var generator = SeededGenerator(seed: 1)
        guard let model = try? ModelFactory.make(run.model, generator: &generator) else { return 0 }
        let before = BLAS.floatingPointOperations.load(ordering: .relaxed)
        _ = model.loss(Tensor.zeros([8, run.model.imageSize]), generator: &generator)
        return BLAS.floatingPointOperations.load(ordering: .relaxed) - before
    }

    /// Whether `run`'s model gets a second stage, the code prior: its family is a `DiscreteCodeModel` (vq_vae).
    static func hasCodePriorStage(_ run: Study.Run) -> Bool {
        ModelFactory.family(of: run.model.kind).map { $0 is any DiscreteCodeModel.Type } ?? false
    }

    /// The code-prior stage of a finished VQ-VAE run, unless its folder holds a prior of its checkpoint.
    func trainPriorIfNeeded(_ run: Study.Run, runFolder: String, threads: Int, log: (String) -> Void) throws {
        if CodePriorTraining.hasValidPrior(runFolder: runFolder) {
            log("\(run.name): code prior of this checkpoint present, skipped")
            return
        }
        log("\(run.name): training the code prior")
        var settings = priorSettings
        settings.seed = run.training.seed
        settings.threads = threads
        try CodePriorTraining.run(runFolder: runFolder, dataDirectory: dataDirectory, settings: settings,
                                  waitForLock: waitForLock) {
            log("\(run.name): " + $0)
        }
    }
}
