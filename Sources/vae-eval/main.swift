import ArgumentParser
import Autodiff
import Datasets
import Evaluation
import Foundation
import LinearAlgebra
import Models
import Reporting
import Storage
import Training

BLASRuntime.selectFastKernels()
MemoryTuning.retainFreedMemory()

struct VAEEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae-eval",
        abstract: "Evaluate any checkpoint written by vae-train: test MSE, negative ELBO, FID/KID/precision/recall, sample grid.",
        subcommands: [Evaluate.self, Report.self, FID.self, Sample.self, Import.self],
        defaultSubcommand: Evaluate.self)
}

func logLine(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

/// Options shared by the commands that compare images with the MNIST test set.
struct FeatureOptions: ParsableArguments {
    @Option(help: "MNIST folder (default: $MNIST_DIR, else data/mnist in the repo).") var data: String?
    @Option(help: "Feature-network file (default: fixtures/feature-network/lenet-mnist.safetensors of the repo).")
    var featureNetwork: String?
    @Option(help: "Folder of cached reference features (default: out/cache beside the runs folder, or of the repo for 'fid').")
    var cacheDir: String?
    @Option(help: "KID: random subsets averaged.") var kidSubsets: Int = 100
    @Option(help: "KID: rows per subset (clamped to the smaller set).") var kidSubsetSize: Int = 1000
    @Option(help: "Threads for BLAS.") var threads: Int = 2

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be >= 1, got \(threads)") }
        guard kidSubsets >= 1 else { throw ValidationError("--kid-subsets must be >= 1, got \(kidSubsets)") }
        guard kidSubsetSize >= 2 else { throw ValidationError("--kid-subset-size must be >= 2, got \(kidSubsetSize)") }
    }

    var currentDirectory: String { FileManager.default.currentDirectoryPath }
    var dataDirectory: String { MNIST.resolveDataDirectory(explicit: data, currentDirectory: currentDirectory) }

    func jobOptions(seed: UInt64, scale: Int, generation: GenerationSettings?, force: Bool,
                    samplers: SamplerRequest = .only([.prior])) -> EvaluationJob.Options {
        EvaluationJob.Options(dataDirectory: dataDirectory, featureNetworkPath: featureNetwork, cacheDirectory: cacheDir,
                              seed: seed, scale: scale, generation: generation, force: force, samplers: samplers)
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate one run (the default command).")

    @Argument(help: "A run folder (out/runs/<run>) or its checkpoint.safetensors.") var runPath: String
    @Option(help: "Seed of the evaluation's random draws.") var seed: UInt64 = 0
    @Option(help: "Pixel upscaling of the sample grid.") var scale: Int = 1
    @Option(help: "Samples per FID draw.") var fidSamples: Int = 10_000
    @Option(help: "Independent sample draws the FID is averaged over.") var fidDraws: Int = 3
    @Flag(help: "Skip FID, KID and precision/recall.") var noFid = false
    @Flag(help: "Recompute even if results.json matches this checkpoint and these settings.") var force = false
    @Option(name: .customLong("sampler"),
            help: "Where samples come from: prior (the model's own), gmm (a Gaussian mixture fitted to the encoder means of the training images, cached in the run folder), learned (vq_vae's autoregressive code prior from 'vae-train prior'), or all that apply; repeatable or a comma list.")
    var samplers: [String] = []
    @OptionGroup var features: FeatureOptions

    func validate() throws {
        guard scale >= 1 && scale <= 16 else { throw ValidationError("--scale must be in 1...16, got \(scale)") }
        guard fidSamples >= 4 else { throw ValidationError("--fid-samples must be >= 4, got \(fidSamples)") }
        guard fidDraws >= 1 else { throw ValidationError("--fid-draws must be >= 1, got \(fidDraws)") }
        let request: SamplerRequest
        do { request = try SamplerRequest.parse(samplers) } catch { throw ValidationError("--sampler: \(error)") }
        if noFid && request != .only([.prior]) {
            throw ValidationError("--sampler \(samplers.joined(separator: ",")) is compared by FID: drop --no-fid")
        }
    }

    func run() throws {
        BLASRuntime.threadCount = features.threads
        let folder = RunFolder(runOrCheckpoint: runPath)
        let job = EvaluationJob(options: features.jobOptions(seed: seed, scale: scale, generation: noFid ? nil
            : GenerationSettings(samples: fidSamples, draws: fidDraws, seed: seed,
                                 kidSubsets: features.kidSubsets, kidSubsetSize: features.kidSubsetSize), force: force,
            samplers: try SamplerRequest.parse(samplers)),
            log: logLine)
        let (results, reused) = try job.evaluate(folder)
        if reused {
            logLine("results: cached (checkpoint \(results.checkpointSHA256.prefix(12)) and settings unchanged; --force recomputes)")
        }
        printTable(results)
        printSamplers(results)
        print("results: \(folder.results)")
        let sheets = SamplerKind.allCases.compactMap { kind in results.samplers?[kind.rawValue].map { (kind, $0.samplesImage) } }
        if sheets.count > 1 {
            for (kind, file) in sheets { print("samples (\(kind.rawValue)): \(folder.path)/\(file)") }
        } else {
            print("samples: \(folder.samples)")
        }
    }

    func printTable(_ r: EvaluationResults) {
        func row(_ name: String, _ value: String) { print(name.padding(toLength: 14, withPad: " ", startingAt: 0) + value) }
        row("run", "\(r.run) (\(r.modelKind), \(r.parameterCount) parameters, \(r.trainingEpochs) epochs, "
            + String(format: "%.1f s)", r.trainingSeconds))
        row("test MSE", String(format: "%.5f", r.reconstruction.meanSquaredError))
        row("-ELBO (nats)", r.reconstruction.negativeELBO.map { String(format: "%.2f", $0) } ?? "n/a")
        guard let g = r.generation else { return }
        row("FID", String(format: "%.3f ± %.3f", g.fid.mean, g.fid.standardDeviation)
            + " (\(g.settings.draws) draws of \(g.settings.samples) samples: "
            + g.fid.values.map { String(format: "%.3f", $0) }.joined(separator: ", ") + ")")
        row("KID", String(format: "%.4f ± %.4f (%d subsets of %d)", g.kid.mean, g.kid.standardDeviation,
                          g.kid.subsets, g.kid.subsetSize))
        row("precision", String(format: "%.4f (k = %d)", g.precisionRecall.precision, g.precisionRecall.k))
        row("recall", String(format: "%.4f", g.precisionRecall.recall))
        row("classes", String(format: "entropy %.3f nats (ln 10 = 2.303), mean max confidence %.3f; ",
                              g.classes.entropy, g.classes.meanMaxConfidence)
            + g.classes.histogram.map(String.init).joined(separator: " "))
        row("features", "\(g.featureNetworkSHA256.prefix(12)) (\(g.featureLayer)), \(g.referenceCount) test images, seed \(g.settings.seed)")
    }

    /// One FID line per sampler other than the prior (whose metrics are the table above).
    func printSamplers(_ r: EvaluationResults) {
        for kind in SamplerKind.allCases where kind != .prior {
            guard let s = r.samplers?[kind.rawValue] else { continue }
            let fid = s.generation.fid
            print("FID (\(kind.rawValue))".padding(toLength: 14, withPad: " ", startingAt: 0)
                + String(format: "%.3f ± %.3f (%d draws; precision %.4f, recall %.4f; fit %.2f s)", fid.mean,
                         fid.standardDeviation, fid.values.count, s.generation.precisionRecall.precision,
                         s.generation.precisionRecall.recall, s.fitSeconds))
        }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate every run in a folder with every sampler that applies (reusing cached results) and write the study notebook with its plots and sample sheets.")

    @Argument(help: "Folder of run folders.") var runsDirectory: String = "out/runs"
    @Option(help: "Notebook to write (default: notebooks-md/study-results.md in the repo).") var notebook: String?
    @Option(help: "Study file, for the reference MSEs and run order (default: fixtures/study.json in the repo).") var study: String?
    @Option(help: "Seed of the evaluation's random draws.") var seed: UInt64 = 0
    @Option(help: "Pixel upscaling of the sample sheets.") var scale: Int = 2
    @Option(help: "Samples per FID draw.") var fidSamples: Int = 10_000
    @Option(help: "Independent sample draws the FID is averaged over.") var fidDraws: Int = 3
    @Flag(help: "Recompute every run's results.") var force = false
    @OptionGroup var features: FeatureOptions

    func validate() throws {
        guard scale >= 1 && scale <= 8 else { throw ValidationError("--scale must be in 1...8, got \(scale)") }
        guard fidSamples >= 4 else { throw ValidationError("--fid-samples must be >= 4, got \(fidSamples)") }
        guard fidDraws >= 1 else { throw ValidationError("--fid-draws must be >= 1, got \(fidDraws)") }
    }

    func run() throws {
        BLASRuntime.threadCount = features.threads
        let root = ProjectFolder.root() ?? FileManager.default.currentDirectoryPath
        let studyPath = study ?? Study.defaultPath()
        let loadedStudy = FileManager.default.fileExists(atPath: studyPath) ? try Study.load(from: studyPath) : nil
        let generation = GenerationSettings(samples: fidSamples, draws: fidDraws, seed: seed,
                                            kidSubsets: features.kidSubsets, kidSubsetSize: features.kidSubsetSize)
        let job = EvaluationJob(options: features.jobOptions(seed: seed, scale: 1, generation: generation, force: force,
                                                             samplers: .all), log: logLine)
        let report = ReportJob(runsDirectory: runsDirectory, notebookPath: notebook ?? root + "/notebooks-md/study-results.md",
                               study: loadedStudy, scale: scale)
        try report.run(evaluation: job, log: logLine)
    }
}

struct FID: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "FID, KID, precision/recall and class statistics of an image set against the MNIST test set.")

    @Option(help: "IDX file (uint8 N x 28 x 28), .npy (uint8 or float32 in [0, 1], N x 28 x 28) or a folder of 28x28 grayscale PNGs.")
    var images: String
    @Option(help: "Seed of the KID subsets.") var seed: UInt64 = 0
    @OptionGroup var features: FeatureOptions

    func run() throws {
        BLASRuntime.threadCount = features.threads
        let start = Date()
        let set = try ImageSetFile.load(images)
        let job = EvaluationJob(options: features.jobOptions(seed: seed, scale: 1, generation: nil, force: false), log: logLine)
        let network = try job.featureNetwork()
        let root = ProjectFolder.root(from: features.currentDirectory) ?? features.currentDirectory
        let reference = try job.reference(cacheDirectory: features.cacheDir ?? root + "/out/cache")
        let settings = GenerationSettings(samples: set.count, draws: 1, seed: seed, kidSubsets: features.kidSubsets,
                                          kidSubsetSize: features.kidSubsetSize)
        try settings.validate()
        let m = try GenerationEvaluation.compare(set.images, count: set.count, network: network, reference: reference,
                                                 settings: settings)
        print("images    \(images) (\(set.format), \(set.count) images) vs \(reference.count) test images")
        print(String(format: "FID       %.4f", m.fid))
        print(String(format: "KID       %.6f ± %.6f (%d subsets of %d)", m.kid.mean, m.kid.standardDeviation,
                     m.kid.subsets, m.kid.subsetSize))
        print(String(format: "precision %.4f  recall %.4f (k = %d)", m.precisionRecall.precision, m.precisionRecall.recall,
                     m.precisionRecall.k))
        print(String(format: "classes   entropy %.3f nats, mean max confidence %.3f; histogram ", m.classes.entropy,
                     m.classes.meanMaxConfidence) + m.classes.histogram.map(String.init).joined(separator: " "))
        print("network   \(network.path) (sha256 \(network.sha256.prefix(12)), \(network.layer.rawValue))")
        print(String(format: "time      %.1f s", Date().timeIntervalSince(start)))
    }
}

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write samples of a run as uint8 N x 28 x 28: .npy, or IDX when the name ends in -idx3-ubyte.")

    @Argument(help: "A run folder (out/runs/<run>) or its checkpoint.safetensors.") var runPath: String
    @Option(help: "Number of samples.") var count: Int
    @Option(help: "Output file (.npy, or NAME-idx3-ubyte for IDX).") var out: String
    @Option(help: "Seed of the sample draw.") var seed: UInt64 = 0
    @Option(help: "Threads for BLAS.") var threads: Int = 2
    @Option(help: "Where samples come from: prior, gmm (fitted with seed 0 and cached in the run folder, as vae-eval does) or learned (vq_vae).")
    var sampler: String = "prior"
    @Option(help: "MNIST folder for the gmm fit (default: $MNIST_DIR, else data/mnist in the repo).") var data: String?

    func validate() throws {
        guard SamplerKind(rawValue: sampler) != nil else {
            throw ValidationError("--sampler must be one of \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(sampler)'")
        }
        guard count >= 1 else { throw ValidationError("--count must be >= 1, got \(count)") }
        guard threads >= 1 else { throw ValidationError("--threads must be >= 1, got \(threads)") }
    }

    func run() throws {
        BLASRuntime.threadCount = threads
        let folder = RunFolder(runOrCheckpoint: runPath)
        guard FileManager.default.fileExists(atPath: folder.checkpoint) else {
            throw EvaluationError.missingCheckpoint(folder.checkpoint)
        }
        let model = try Checkpoint.read(from: folder.checkpoint).model
        guard model.configuration.imageSize == ImageSetFile.side * ImageSetFile.side else {
            throw EvaluationError.invalidSetting("the model makes \(model.configuration.imageSize)-pixel images, not 28x28")
        }
        let dataDirectory = MNIST.resolveDataDirectory(explicit: data, currentDirectory: FileManager.default.currentDirectoryPath)
        let prepared = try PreparedSampler.forRun(folder, model: model, kind: SamplerKind(rawValue: sampler)!,
                                                  dataDirectory: dataDirectory, log: logLine)
        var generator = SeededGenerator(seed: seed)
        let images = GenerationEvaluation.samples(from: prepared, count: count, generator: &generator)
        try ImageSetFile.write(images, count: count, to: out)
        print("\(count) samples of \(folder.name) (\(sampler) sampler, seed \(seed)) -> \(out)")
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn a PyTorch state dict (.pt/.pth, either torch.save format) or a safetensors file into a checkpoint of a study run's architecture.")

    @Argument(help: "The state dict file.") var file: String
    @Option(help: "Run of the study whose architecture the tensors fill, e.g. vae_std_z20.") var model: String
    @Option(help: "Run folder to create; the checkpoint goes to OUT/checkpoint.safetensors (never replaced).") var out: String
    @Option(help: "Study file (default: fixtures/study.json in the repo).") var study: String?

    func run() throws {
        let loaded = try Study.load(from: study ?? Study.defaultPath())
        guard let run = try loaded.runs(only: [model]).first else { return }
        let path = try CheckpointImport.run(file: file, run: run, outputFolder: out)
        print("\(file) -> \(path) (\(model), imported); evaluate it with vae-eval \(out)")
    }
}

VAEEval.main()
