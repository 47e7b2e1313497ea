import ArgumentParser
import Autodiff
import Datasets
import Foundation
import LinearAlgebra
import Models
import Storage
import Training

BLASRuntime.selectFastKernels()
MemoryTuning.retainFreedMemory()

/// The checks of the settings train, prior and classifier share (`TrainingSettings`), as messages naming their options.
func validateTrainingOptions(epochs: Int, batchSize: Int, lr: Double, threads: Int) throws {
    guard epochs >= 1 else { throw ValidationError("--epochs must be >= 1, got \(epochs)") }
    guard batchSize >= 1 else { throw ValidationError("--batch-size must be >= 1, got \(batchSize)") }
    guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number, got \(lr)") }
    guard threads >= 1 else { throw ValidationError("--threads must be >= 1, got \(threads)") }
}

struct VAETrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae-train",
        abstract: "Train a model of the VAE study on MNIST and write its checkpoint.",
        version: "vae-toolkit \(ToolkitAssets.version) (checkpoint format \(Checkpoint.formatVersion))",
        subcommands: [Train.self, Sweep.self, Prior.self, Classifier.self, Download.self],
        defaultSubcommand: Train.self)
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train one run (the default command).")

    @Option(help: ArgumentHelp("Run of the study file (its model; the training settings are the options here): \(Self.shippedRunNames)."))
    var model: String
    @Option(help: "Study file (default: the shipped one, installed beside the command or in the repo's fixtures/).") var study: String?
    @Option(parsing: .unconditional, help: "Epochs.") var epochs: Int = 10
    @Option(parsing: .unconditional, help: "Images per batch.") var batchSize: Int = 256
    @Option(parsing: .unconditional, help: "Adam learning rate.") var lr: Double = 1e-3
    @Option(parsing: .unconditional, help: "Seed of every random draw.") var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Threads (any count gives the same checkpoint for a seed).") var threads: Int = 2
    @Option(parsing: .unconditional, help: "Also keep a copy of the checkpoint every N epochs in RUN/snapshots/epoch-NNN/ (vae-eval report evaluates each).")
    var checkpointEvery: Int?
    @Option(help: "MNIST folder (default: $MNIST_DIR, else data/mnist in the repo).") var data: String?
    @Option(help: "Output root; the run goes to OUT/runs/<model>.") var out: String = "out"
    @Flag(help: "Continue from the run's last checkpoint if it has one.") var resume = false
    @Flag(help: "Replace the run's checkpoint if it has one, deleting its results, sample sheets, sampler caches and code prior.")
    var force = false
    @Flag(help: "Fail at once if another process is writing into the run folder (default: wait for it).") var noWait = false

    /// The shipped study's run names, for the help.
    static var shippedRunNames: String {
        (try? Study.load(from: Study.defaultPath()))?.runs.map(\.name).joined(separator: ", ") ?? "see --study"
    }

    func validate() throws {
        try validateTrainingOptions(epochs: epochs, batchSize: batchSize, lr: lr, threads: threads)
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be >= 1, got \(checkpointEvery)") }
        if resume && force { throw ValidationError("--resume continues the run, --force replaces it: pass one of them") }
        let runs = try Study.load(from: study ?? Study.defaultPath()).runs
        guard runs.contains(where: { $0.name == model }) else {
            throw ValidationError("unknown --model '\(model)'; known: \(runs.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        var settings = TrainingSettings(epochs: epochs, batchSize: batchSize, learningRate: lr, seed: seed, threads: threads)
        settings.checkpointEvery = checkpointEvery
        var job = TrainingJob(
            runName: model, configuration: try Study.load(from: study ?? Study.defaultPath()).runs(only: [model])[0].model,
            settings: settings,
            dataDirectory: MNIST.resolveDataDirectory(explicit: data, currentDirectory: FileManager.default.currentDirectoryPath),
            outputRoot: out, resume: resume, force: force)
        job.waitForLock = !noWait
        // A resumed run trains to its checkpoint's epoch count, whatever --epochs says.
        let total = resume ? (try? Checkpoint.read(from: job.checkpointPath))?.training.epochs ?? epochs : epochs
        let reporter = ProgressReporter(runName: model, epochs: total)
        let record = try job.run(progress: reporter.handle,
                                 notice: { StandardError.line("note: " + $0) })
        print("\(model): \(record.completedEpochs.counted("epoch")) in \(String(format: "%.1f", record.wallSeconds)) s -> \(job.checkpointPath)")
    }
}

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train every run of the study that has no finished checkpoint for its exact settings, and the code prior of each vq_vae run that lacks one.")

    @Option(help: "Study file (default: the shipped one, installed beside the command or in the repo's fixtures/).") var study: String?
    @Option(help: "Comma-separated run names to train (e.g. for one job of a batch array).") var only: String?
    @Option(help: "MNIST folder (default: $MNIST_DIR, else data/mnist in the repo).") var data: String?
    @Option(parsing: .unconditional, help: "Output root; runs go to OUT/runs/<run>.") var out: String = "out"
    @Option(parsing: .unconditional, help: "Train each run with seeds 1...N, in folders OUT/runs/<run>-s<seed>.") var seeds: Int?
    @Option(parsing: .unconditional, help: "Runs trained side by side, each with threads/jobs threads: the same checkpoints, sooner (2 on two cores).")
    var jobs: Int = 1
    @Flag(help: "Fail at once if another process is writing into a run folder (default: wait for it).") var noWait = false
    @Option(help: "Threads of each run, instead of the study file's (any count gives the same checkpoints).") var threads: Int?
    @Option(help: "Train only task N of --list-tasks (default: $SLURM_ARRAY_TASK_ID, else $JOB_COMPLETION_INDEX, when set).")
    var taskIndex: Int?
    @Flag(help: "Print the task list (one run x seed per line, '<index> <run folder>') and exit.") var listTasks = false

    func validate() throws {
        if let seeds, seeds < 1 || seeds > 1000 { throw ValidationError("--seeds must be between 1 and 1000, got \(seeds)") }
        if jobs < 1 || jobs > 64 { throw ValidationError("--jobs must be between 1 and 64, got \(jobs)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
        if let taskIndex, taskIndex < 0 { throw ValidationError("--task-index must be >= 0, got \(taskIndex)") }
    }

    func run() throws {
        let path = study ?? Study.defaultPath()
        let loaded = try Study.load(from: path)
        let names = only?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        let tasks = try StudyTasks(study: loaded, only: names, seeds: seeds)
        if listTasks { print(tasks.listing, terminator: ""); return }
        var runs = tasks.runs
        if let threads { for i in runs.indices { runs[i].training.threads = threads } }
        let epochsByName = Dictionary(uniqueKeysWithValues: runs.map { ($0.name, $0.training.epochs) })
        var sweep = StudySweep(
            study: loaded,
            dataDirectory: MNIST.resolveDataDirectory(explicit: data, currentDirectory: FileManager.default.currentDirectoryPath),
            outputRoot: out)
        sweep.jobs = jobs
        sweep.waitForLock = !noWait
        let live = jobs == 1 && isatty(2) != 0  // live progress bars of runs side by side would overwrite each other
        let log: (String) -> Void = { StandardError.line("sweep: " + $0) }
        let progress: (String) -> (TrainingEvent) -> Void = { name in
            let reporter = ProgressReporter(runName: name, epochs: epochsByName[name]!, live: live)
            return reporter.handle
        }
        if let index = try StudyTasks.index(explicit: taskIndex, environment: ProcessInfo.processInfo.environment) {
            _ = try tasks.run(at: index)  // refuses an index out of range
            let run = runs[index]
            log("task \(index) of \(tasks.count): \(run.name)")
            try sweep.runTask(run, log: log, progress: progress)
        } else {
            try sweep.run(runs, log: log, progress: progress)
        }
    }
}

struct Prior: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the learned code prior of a finished vq_vae run (second stage): RUN_FOLDER/code-prior.safetensors.")

    @Argument(help: "The run folder, holding checkpoint.safetensors of a finished vq_vae run.") var runFolder: String
    @Option(parsing: .unconditional, help: "Epochs.") var epochs: Int = CodePriorTraining.defaultSettings.epochs
    @Option(parsing: .unconditional, help: "Code grids per batch.") var batchSize: Int = CodePriorTraining.defaultSettings.batchSize
    @Option(parsing: .unconditional, help: "Adam learning rate.") var lr: Double = CodePriorTraining.defaultSettings.learningRate
    @Option(parsing: .unconditional, help: "Seed of every random draw.") var seed: UInt64 = CodePriorTraining.defaultSettings.seed
    @Option(parsing: .unconditional, help: "Threads (any count gives the same prior for a seed).") var threads: Int = CodePriorTraining.defaultSettings.threads
    @Option(help: "MNIST folder the run was trained on (default: $MNIST_DIR, else data/mnist in the repo).") var data: String?
    @Option(parsing: .unconditional, help: "Units per hidden layer of the prior's network (default \(CodePriorConfiguration(positions: 2, codes: 2).hiddenSize)).")
    var hiddenSize: Int?
    @Option(parsing: .unconditional, help: "Hidden layers of the prior's network (default \(CodePriorConfiguration(positions: 2, codes: 2).hiddenLayers)).")
    var hiddenLayers: Int?
    @Flag(help: "Fail at once if another process is writing into the run folder (default: wait for it).") var noWait = false

    func validate() throws {
        try validateTrainingOptions(epochs: epochs, batchSize: batchSize, lr: lr, threads: threads)
        if let hiddenSize, hiddenSize < 1 { throw ValidationError("--hidden-size must be >= 1, got \(hiddenSize)") }
        if let hiddenLayers, hiddenLayers < 1 { throw ValidationError("--hidden-layers must be >= 1, got \(hiddenLayers)") }
        guard FileManager.default.fileExists(atPath: RunFolder(path: runFolder).checkpoint) else {
            throw ValidationError("\(runFolder) holds no \(RunFolder.checkpointFileName); pass the folder of a trained vq_vae run")
        }
    }

    func run() throws {
        let record = try CodePriorTraining.run(
            runFolder: runFolder,
            dataDirectory: MNIST.resolveDataDirectory(explicit: data, currentDirectory: FileManager.default.currentDirectoryPath),
            settings: TrainingSettings(epochs: epochs, batchSize: batchSize, learningRate: lr, seed: seed, threads: threads),
            hiddenSize: hiddenSize, hiddenLayers: hiddenLayers, waitForLock: !noWait
        ) { StandardError.line($0) }
        let last = record.history.last!
        print(String(format: "code prior: test NLL %.2f nats/grid (%.1f bits) after %d epochs; %.1f s encoding + %.1f s training -> %@",
                     last.testNLL, last.testNLL / M_LN2, record.epochs, record.encodingSeconds, record.trainingSeconds,
                     CodePriorTraining.priorPath(runFolder: runFolder)))
    }
}

struct Classifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the LeNet feature network of the evaluator's FID on MNIST and write it as safetensors.")

    @Option(parsing: .unconditional, help: "Epochs (the shipped network: 4).") var epochs: Int = ClassifierTraining.defaultSettings.epochs
    @Option(parsing: .unconditional, help: "Images per batch.") var batchSize: Int = ClassifierTraining.defaultSettings.batchSize
    @Option(parsing: .unconditional, help: "Adam learning rate.") var lr: Double = ClassifierTraining.defaultSettings.learningRate
    @Option(parsing: .unconditional, help: "Seed of every random draw.") var seed: UInt64 = ClassifierTraining.defaultSettings.seed
    @Option(parsing: .unconditional, help: "Threads (the same seed and thread count give the same weights).")
    var threads: Int = ClassifierTraining.defaultSettings.threads
    @Option(help: "MNIST folder (default: $MNIST_DIR, else data/mnist in the repo).") var data: String?
    @Option(help: "Output file.") var out: String = "out/feature-network/lenet-mnist.safetensors"

    func validate() throws {
        try validateTrainingOptions(epochs: epochs, batchSize: batchSize, lr: lr, threads: threads)
    }

    func run() throws {
        let directory = MNIST.resolveDataDirectory(explicit: data, currentDirectory: FileManager.default.currentDirectoryPath)
        let command = (["vae-train"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let report = try ClassifierTraining.run(
            dataDirectory: directory, outputPath: out,
            settings: TrainingSettings(epochs: epochs, batchSize: batchSize, learningRate: lr, seed: seed, threads: threads),
            command: command) { StandardError.line($0) }
        let dead = report.deadUnits.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print(String(format: "test accuracy %.2f%% (%d/%d) after %@ in %.1f s", 100 * report.testAccuracy,
                     report.testCorrect, report.testCount, epochs.counted("epoch"), report.trainingSeconds)
              + "; dead feature units: \(dead) -> \(out)")
    }
}

struct Download: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download the four MNIST files, or pytorch-fid's Inception weights (--inception), verifying their SHA-256.")

    @Flag(help: "Fetch pytorch-fid's Inception weights (\(InceptionWeights.fileName)) instead of MNIST.") var inception = false
    @Option(help: "Destination folder (required for MNIST; for --inception, default $XDG_CACHE_HOME/vae-toolkit or ~/.cache/vae-toolkit).")
    var to: String?
    @Option(help: "Mirror base URL (replaces the default list of public mirrors, or pytorch-fid's release folder).") var mirror: String?

    func validate() throws {
        if let mirror, URL(string: mirror)?.scheme == nil {
            throw ValidationError("--mirror must be a URL such as https://host/path/, got '\(mirror)'")
        }
        if !inception && to == nil { throw ValidationError("--to DIR is required for MNIST (or pass --inception)") }
    }

    func run() throws {
        let log = StandardError.line
        if inception {
            let path = try InceptionWeights.download(into: to ?? InceptionWeights.cacheFolder(),
                                                     mirror: mirror ?? InceptionWeights.defaultMirror, progress: log)
            print("Inception weights are in \(path)")
            return
        }
        guard let to else { return }
        try FileError.createFolder(to)
        var downloader = MNISTDownloader()
        if let mirror { downloader.mirrors = [mirror] }
        _ = try downloader.download(into: to, progress: log)
        print("MNIST is in \(to)")
    }
}

// `vae-train --help` shows the training options of the default subcommand as well as the subcommands.
if let first = CommandLine.arguments.dropFirst().first, CommandLine.arguments.count == 2, ["--help", "-h", "help"].contains(first) {
    print(VAETrain.helpMessage())
    print("\nTRAINING OPTIONS ('vae-train [train] --model RUN ...', the default subcommand):\n")
    print(VAETrain.helpMessage(for: Train.self))
    exit(0)
}
VAETrain.main()
