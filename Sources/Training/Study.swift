import Datasets
import Foundation
import Models
import Storage

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

    /// The study file shipped in the repo, found from the current folder.
    public static func defaultPath(from folder: String = FileManager.default.currentDirectoryPath) -> String {
        (ProjectFolder.root(from: folder) ?? folder) + "/fixtures/study.json"
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

    public var description: String {
        switch self {
        case .cannotRead(let path): return "cannot read the study file \(path) (pass --study PATH)"
        case let .invalid(path, reason): return "\(path): \(reason)"
        case let .unknownRun(name, known): return "the study has no run '\(name)'; its runs: \(known.joined(separator: ", "))"
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

    public init(study: Study, dataDirectory: String, outputRoot: String) {
        self.study = study; self.dataDirectory = dataDirectory; self.outputRoot = outputRoot
    }

    public enum Decision: Equatable { case skip, resume, train, replace }

    /// What the sweep will do with `run` given what is on disk.
    public func decision(for run: Study.Run, dataChecksum: String) -> Decision {
        let job = job(for: run, resume: true)
        guard FileManager.default.fileExists(atPath: job.checkpointPath) else { return .train }
        guard let checkpoint = try? Checkpoint.read(from: job.checkpointPath) else { return .replace }
        let t = checkpoint.training
        let sameSettings = checkpoint.model.configuration == run.model && t.dataChecksum == dataChecksum
            && t.epochs == run.training.epochs && t.batchSize == run.training.batchSize
            && t.learningRate == run.training.learningRate && t.seed == run.training.seed && t.threads == run.training.threads
        if !sameSettings { return .replace }
        return t.isFinished ? .skip : .resume
    }

    func job(for run: Study.Run, resume: Bool) -> TrainingJob {
        TrainingJob(runName: run.name, configuration: run.model, settings: run.training,
                    dataDirectory: dataDirectory, outputRoot: outputRoot, resume: resume)
    }

    /// Runs the sweep over `runs`; `log` receives one line per decision.
    public func run(_ runs: [Study.Run], log: (String) -> Void, progress: (String) -> (TrainingEvent) -> Void) throws {
        let checksum = try MNIST.checksumOfFiles(in: dataDirectory)
        for run in runs {
            let decision = decision(for: run, dataChecksum: checksum)
            let job = job(for: run, resume: decision == .resume)
            switch decision {
            case .skip:
                log("\(run.name): finished checkpoint with these settings, skipped")
            case .resume:
                log("\(run.name): resuming")
            case .train:
                log("\(run.name): training")
            case .replace:
                let aside = job.runFolder + ".replaced-\(Int(Date().timeIntervalSince1970))"
                try FileManager.default.moveItem(atPath: job.runFolder, toPath: aside)
                log("\(run.name): settings changed; previous run moved to \(aside), training")
            }
            if decision != .skip { try job.run(progress: progress(run.name)) }
            if run.model.kind == .vqVAE { try trainPriorIfNeeded(run, runFolder: job.runFolder, log: log) }
        }
    }

    /// The code-prior stage of a finished VQ-VAE run, unless its folder holds a prior of its checkpoint.
    func trainPriorIfNeeded(_ run: Study.Run, runFolder: String, log: (String) -> Void) throws {
        if CodePriorTraining.hasValidPrior(runFolder: runFolder) {
            log("\(run.name): code prior of this checkpoint present, skipped")
            return
        }
        log("\(run.name): training the code prior")
        var settings = priorSettings
        settings.seed = run.training.seed
        settings.threads = run.training.threads
        try CodePriorTraining.run(runFolder: runFolder, dataDirectory: dataDirectory, settings: settings) {
            log("\(run.name): " + $0)
        }
    }
}
