import ArgumentParser
import Autodiff
import Datasets
import Evaluation
import Foundation
import Imaging
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
        version: "vae-toolkit \(ToolkitAssets.version) (checkpoint format \(Checkpoint.formatVersion))",
        subcommands: [Evaluate.self, Report.self, FID.self, Reconstruction.self, Sample.self, Import.self],
        defaultSubcommand: Evaluate.self)
}

func logLine(_ text: String) { StandardError.line(text) }

extension FeatureNetworkKind: ExpressibleByArgument {}

/// Options shared by the commands that compare images with the MNIST test set.
struct FeatureOptions: ParsableArguments {
    @Option(help: "MNIST folder (default: $MNIST_DIR, else data/mnist in the repo).") var data: String?
    @Option(help: "Feature-network file (default: the shipped one, installed beside the command or in the repo's fixtures/feature-network/).")
    var featureNetwork: String?
    @Option(help: "Folder of cached reference features (default: out/cache beside the runs folder, or of the repo for 'fid').")
    var cacheDir: String?
    @Option(parsing: .unconditional, help: "KID: random subsets averaged.") var kidSubsets: Int = 100
    @Option(parsing: .unconditional, help: "KID: rows per subset (clamped to the smaller set).") var kidSubsetSize: Int = 1000
    @Option(parsing: .unconditional, help: "Threads for BLAS.") var threads: Int = 2
    @Option(name: .customLong("features"),
            help: ArgumentHelp("Feature networks of FID, KID and precision/recall: lenet (the shipped MNIST classifier, the default) or inception (pytorch-fid's Inception-v3, comparable with papers; needs its weights); repeatable or a comma list.",
                               valueName: "lenet|inception"))
    var featureNetworks: [String] = []
    @Option(help: "pytorch-fid's Inception weights (pt_inception-2015-12-05-6726825d.pth, or the same tensors as safetensors; default: that file in $XDG_CACHE_HOME/vae-toolkit, where 'vae-train download --inception' puts it).")
    var inceptionWeights: String?

    /// The feature networks asked for (LeNet alone when none is named).
    var featureKinds: [FeatureNetworkKind] { (try? FeatureNetworkKind.parse(featureNetworks)) ?? [.lenet] }

    func validate() throws {
        do { _ = try FeatureNetworkKind.parse(featureNetworks) } catch {
            throw ValidationError("--features: unknown network in '\(featureNetworks.joined(separator: ","))' (known: "
                + FeatureNetworkKind.allValueStrings.joined(separator: ", ") + ")")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be >= 1, got \(threads)") }
        guard kidSubsets >= 1 else { throw ValidationError("--kid-subsets must be >= 1, got \(kidSubsets)") }
        guard kidSubsetSize >= 2 else { throw ValidationError("--kid-subset-size must be >= 2, got \(kidSubsetSize)") }
    }

    var currentDirectory: String { FileManager.default.currentDirectoryPath }
    var dataDirectory: String { MNIST.resolveDataDirectory(explicit: data, currentDirectory: currentDirectory) }

    func jobOptions(seed: UInt64, scale: Int, generation: GenerationSettings?, force: Bool,
                    samplers: SamplerRequest = .only([.prior]), noWait: Bool = false) -> EvaluationJob.Options {
        var options = EvaluationJob.Options(dataDirectory: dataDirectory, featureNetworkPath: featureNetwork, cacheDirectory: cacheDir,
                                            seed: seed, scale: scale, generation: generation, force: force, samplers: samplers)
        options.waitForLock = !noWait
        options.features = featureKinds
        options.inceptionWeightsPath = inceptionWeights
        return options
    }
}

/// The importance-weighted log-likelihood (IWAE bound), shared by `vae-eval RUN` and `vae-eval report`.
struct LikelihoodOptions: ParsableArguments {
    @Flag(help: "Also estimate the test log-likelihood by importance sampling (IWAE bound; Gaussian VAEs and gm_vae).")
    var logLikelihood = false
    @Option(parsing: .unconditional, help: "Importance samples per image for --log-likelihood.") var llSamples: Int = 5000
    @Option(parsing: .unconditional, help: "Test images (the first N) for --log-likelihood.") var llImages: Int = 1000

    func validate() throws {
        guard llSamples >= 1 else { throw ValidationError("--ll-samples must be >= 1, got \(llSamples)") }
        guard llImages >= 2 else { throw ValidationError("--ll-images must be >= 2 (a standard error needs two), got \(llImages)") }
    }

    /// The settings, nil without --log-likelihood; its seed is the evaluation's.
    func settings(seed: UInt64) -> LogLikelihoodSettings? {
        logLikelihood ? LogLikelihoodSettings(samples: llSamples, images: llImages, seed: seed) : nil
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate one run (the default command).")

    @Argument(help: "A run folder (out/runs/<run>) or its checkpoint.safetensors.") var runPath: String
    @Option(parsing: .unconditional, help: "Seed of the evaluation's random draws.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Pixel upscaling of the sample grid.") var scale: Int = 1
    @Option(parsing: .unconditional, help: "Samples per FID draw.") var fidSamples: Int = 10_000
    @Option(parsing: .unconditional, help: "Independent sample draws the FID is averaged over.") var fidDraws: Int = 3
    @Flag(help: "Skip FID, KID and precision/recall.") var noFid = false
    @Flag(help: "Recompute even if results.json matches this checkpoint and these settings.") var force = false
    @Flag(help: "Fail at once if another process is writing into the run folder (default: wait for it).") var noWait = false
    @Option(name: .customLong("sampler"),
            help: "Where samples come from: prior (the model's own), gmm (a Gaussian mixture fitted to the encoder means of the training images, cached in the run folder), learned (vq_vae's autoregressive code prior from 'vae-train prior'), or all that apply; repeatable or a comma list.")
    var samplers: [String] = []
    @OptionGroup var features: FeatureOptions
    @OptionGroup var likelihood: LikelihoodOptions

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
        var options = features.jobOptions(seed: seed, scale: scale, generation: noFid ? nil
            : GenerationSettings(samples: fidSamples, draws: fidDraws, seed: seed,
                                 kidSubsets: features.kidSubsets, kidSubsetSize: features.kidSubsetSize), force: force,
            samplers: try SamplerRequest.parse(samplers), noWait: noWait)
        options.logLikelihood = likelihood.settings(seed: seed)
        let job = EvaluationJob(options: options, log: logLine)
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
        row("run", "\(r.run) (\(r.modelKind), \(r.parameterCount.counted("parameter")), \(r.trainingEpochs.counted("epoch")), "
            + String(format: "%.1f s)", r.trainingSeconds))
        row("test MSE", String(format: "%.5f", r.reconstruction.meanSquaredError))
        row("-ELBO (nats)", r.reconstruction.negativeELBO.map { String(format: "%.2f", $0) } ?? "n/a")
        if let latent = r.latent {
            if let ll = latent.logLikelihood {
                row("log p(x)", String(format: "%.2f ± %.2f nats (IWAE, k = %d, %@)", ll.meanNats, ll.standardError,
                                       ll.samples, ll.images.counted("test image")))
            }
            row("active units", "\(latent.activeUnits) of \(latent.latentSize) (Cov_x E[z|x] > \(latent.activityThreshold))")
        }
        guard let g = r.generation else { return }
        if g.fid.values.count == 1 {
            row("FID", String(format: "%.3f", g.fid.mean) + " (1 draw of \(g.settings.samples.counted("sample")))")
        } else {
            row("FID", String(format: "%.3f ± %.3f", g.fid.mean, g.fid.standardDeviation)
                + " (\(g.settings.draws.counted("draw")) of \(g.settings.samples.counted("sample")): "
                + g.fid.values.map { String(format: "%.3f", $0) }.joined(separator: ", ") + ")")
        }
        row("KID", (g.kid.subsets == 1 ? String(format: "%.4f", g.kid.mean)
                     : String(format: "%.4f ± %.4f", g.kid.mean, g.kid.standardDeviation))
            + " (\(g.kid.subsets.counted("subset")) of \(g.kid.subsetSize))")
        row("precision", String(format: "%.4f (k = %d)", g.precisionRecall.precision, g.precisionRecall.k))
        row("recall", String(format: "%.4f", g.precisionRecall.recall))
        if let classes = g.classes {
            row("classes", String(format: "entropy %.3f nats (ln 10 = 2.303), mean max confidence %.3f; ",
                                  classes.entropy, classes.meanMaxConfidence)
                + classes.histogram.map(String.init).joined(separator: " "))
        }
        row("features", "\(g.featureNetworkSHA256.prefix(12)) (\(g.featureLayer)), \(g.referenceCount.counted("test image")), seed \(g.settings.seed)")
    }

    /// One FID line per sampler and feature network besides the prior's LeNet metrics (the table above).
    func printSamplers(_ r: EvaluationResults) {
        for kind in SamplerKind.allCases {
            guard let s = r.samplers?[kind.rawValue] else { continue }
            for network in FeatureNetworkKind.allCases where kind != .prior || network != .lenet {
                guard let g = s.metrics(network) else { continue }
                let fid = g.fid
                let label = network == .lenet ? "FID (\(kind.rawValue))" : "FID (\(kind.rawValue), \(network.rawValue))"
                print(label.padding(toLength: max(14, label.count + 1), withPad: " ", startingAt: 0)
                    + (fid.values.count == 1 ? String(format: "%.3f", fid.mean)
                       : String(format: "%.3f ± %.3f", fid.mean, fid.standardDeviation))
                    + String(format: " (%@ of %@; KID %.4f, precision %.4f, recall %.4f; network %@)",
                             fid.values.count.counted("draw"), g.settings.samples.counted("sample"), g.kid.mean,
                             g.precisionRecall.precision, g.precisionRecall.recall, String(g.featureNetworkSHA256.prefix(12)))
                    + (kind == .prior ? "" : String(format: "; fit %.2f s", s.fitSeconds)))
            }
        }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate every run in a folder with every sampler that applies (reusing cached results) and write the study notebook with its plots and sample sheets.")

    @Argument(help: "Folder of run folders.") var runsDirectory: String = "out/runs"
    @Option(help: "Notebook to write (default: notebooks-md/study-results.md in the repo).") var notebook: String?
    @Option(parsing: .unconditional, help: "Study file, for the reference MSEs and run order (default: the shipped one, installed beside the command or in the repo's fixtures/).") var study: String?
    @Option(parsing: .unconditional, help: "Seed of the evaluation's random draws.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Pixel upscaling of the sample sheets.") var scale: Int = 2
    @Option(parsing: .unconditional, help: "Samples per FID draw.") var fidSamples: Int = 10_000
    @Option(parsing: .unconditional, help: "Independent sample draws the FID is averaged over.") var fidDraws: Int = 3
    @Flag(help: "Recompute every run's results.") var force = false
    @Flag(help: "Fail at once if another process is writing into a run folder (default: wait for it).") var noWait = false
    @Flag(help: "Write the notebook from the stored results alone; refuse, listing them, if any run lacks results of its checkpoint and these settings.")
    var noEvaluate = false
    @Option(help: "Evaluate only task N of --list-tasks, without writing the notebook (default: $SLURM_ARRAY_TASK_ID, else $JOB_COMPLETION_INDEX, when set and without --no-evaluate).")
    var taskIndex: Int?
    @Flag(help: "Print the task list (one run x seed per line, '<index> <run folder>', as vae-train sweep --list-tasks) and exit.")
    var listTasks = false
    @Option(help: "Task list: seeds 1...N of each run (as vae-train sweep --seeds).") var seeds: Int?
    @Option(help: "Task list: comma-separated run names (as vae-train sweep --only).") var only: String?
    @Option(help: "Folder of runs trained longer with snapshots (vae-train sweep --study fixtures/study-50-epochs.json): the notebook shows their MSE and FID against epochs and the claims about more epochs use them.")
    var epochRuns: String?
    @OptionGroup var features: FeatureOptions
    @OptionGroup var likelihood: LikelihoodOptions

    func validate() throws {
        guard scale >= 1 && scale <= 8 else { throw ValidationError("--scale must be in 1...8, got \(scale)") }
        guard fidSamples >= 4 else { throw ValidationError("--fid-samples must be >= 4, got \(fidSamples)") }
        guard fidDraws >= 1 else { throw ValidationError("--fid-draws must be >= 1, got \(fidDraws)") }
        if let seeds, seeds < 1 || seeds > 1000 { throw ValidationError("--seeds must be between 1 and 1000, got \(seeds)") }
        if let taskIndex, taskIndex < 0 { throw ValidationError("--task-index must be >= 0, got \(taskIndex)") }
        if noEvaluate && (taskIndex != nil || force) {
            throw ValidationError("--no-evaluate evaluates nothing: drop \(force ? "--force" : "--task-index")")
        }
    }

    func run() throws {
        BLASRuntime.threadCount = features.threads
        let root = ProjectFolder.root() ?? FileManager.default.currentDirectoryPath
        let studyPath = study ?? Study.defaultPath()
        let index = noEvaluate ? nil : try StudyTasks.index(explicit: taskIndex, environment: ProcessInfo.processInfo.environment)
        // The task list needs the study file; the notebook only uses it when it is there.
        let loadedStudy = FileManager.default.fileExists(atPath: studyPath) || listTasks || index != nil
            ? try Study.load(from: studyPath) : nil
        var taskRun: Study.Run?
        if listTasks || index != nil, let loadedStudy {
            let names = only?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            let tasks = try StudyTasks(study: loadedStudy, only: names, seeds: seeds)
            if listTasks { print(tasks.listing, terminator: ""); return }
            if let index {
                let run = try tasks.run(at: index)
                logLine("task \(index) of \(tasks.count): \(run.name)")
                taskRun = run
            }
        }
        let generation = GenerationSettings(samples: fidSamples, draws: fidDraws, seed: seed,
                                            kidSubsets: features.kidSubsets, kidSubsetSize: features.kidSubsetSize)
        var options = features.jobOptions(seed: seed, scale: 1, generation: generation, force: force,
                                          samplers: .all, noWait: noWait)
        options.storedOnly = noEvaluate
        options.logLikelihood = likelihood.settings(seed: seed)
        let job = EvaluationJob(options: options, log: logLine)
        var report = ReportJob(runsDirectory: runsDirectory, notebookPath: notebook ?? root + "/notebooks-md/study-results.md",
                               study: loadedStudy, scale: scale)
        report.epochRunsDirectory = epochRuns
        if let taskRun {
            let (results, reused) = try report.evaluateTask(taskRun, evaluation: job)
            logLine("\(results.run): \(reused ? "cached results" : "evaluated") -> \(RunFolder(path: runsDirectory + "/" + taskRun.name).results)")
            return
        }
        try report.run(evaluation: job, log: logLine)
    }
}

struct FID: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "FID, KID, precision/recall and class statistics of an image set against the MNIST test set (or --reference).")

    @Option(help: "IDX file (uint8 N x 28 x 28), .npy (uint8, or float32/float64 in [0, 1]; (N, 28, 28), (N, 1, 28, 28), (N, 28, 28, 1) or (N, 784)) or a folder of 28x28 PNGs (colour ones converted to luminance).")
    var images: String
    @Option(help: "What the set is compared with: test (the MNIST test set), train (the training set), another image set file, or FID statistics (an .npz with mu and sigma, as pytorch-fid saves them: FID only).")
    var reference: String = "test"
    @Option(help: "The array of an .npz image file to read (needed when it holds several).") var key: String?
    @Option(help: "Also write the set's feature statistics as pytorch-fid does (.npz with mu and sigma).") var saveStats: String?
    @Flag(help: "Print the results as JSON on standard output.") var json = false
    @Option(parsing: .unconditional, help: "Seed of the KID subsets.") var seed: UInt64 = 0
    @OptionGroup var features: FeatureOptions

    func validate() throws {
        if saveStats != nil, features.featureKinds.count > 1 {
            throw ValidationError("--save-stats writes the statistics of one feature network: give one --features")
        }
    }

    func run() throws {
        BLASRuntime.threadCount = features.threads
        let start = Date()
        let set = try ImageSetFile.load(images, key: key)
        let job = EvaluationJob(options: features.jobOptions(seed: seed, scale: 1, generation: nil, force: false), log: logLine)
        let kinds = features.featureKinds
        // Every network needed is found before the first (slow) pass.
        for kind in kinds { _ = try job.featureExtractor(kind) }
        if let saveStats {
            let network = try job.featureExtractor(kinds[0])
            let statistics = try FeatureStatistics(features: network.extract(set.images, count: set.count, stage: "features of \(images)").features,
                                                   dimension: network.dimension)
            try FIDStatisticsFile.write(statistics, to: saveStats)
            logLine("statistics of \(set.count.counted("image")) (\(network.dimension)-d \(network.kind.rawValue) \(network.layerName) features) -> \(saveStats)")
        }
        let root = ProjectFolder.root(from: features.currentDirectory) ?? features.currentDirectory
        var scores: [String: ImageSetScore] = [:]
        for kind in kinds {
            let score = try ImageSetScoring.score(set, path: images, reference: ReferenceChoice(argument: reference), job: job,
                                                  cacheDirectory: features.cacheDir ?? root + "/out/cache", seed: seed,
                                                  kidSubsets: features.kidSubsets, kidSubsetSize: features.kidSubsetSize,
                                                  network: kind)
            score.notices.forEach(logLine)
            scores[kind.rawValue] = score
            if !json {
                if kinds.count > 1 { print("features  \(kind.rawValue)") }
                ImageSetScoring.lines(score).forEach { print($0) }
            }
        }
        if json {
            // One network: its score object, as before; several: one object per network, by name.
            print(kinds.count == 1 ? try StableJSON.string(scores[kinds[0].rawValue]!) : try StableJSON.string(scores))
        } else {
            print(String(format: "time      %.1f s", Date().timeIntervalSince(start)))
        }
    }
}

struct Reconstruction: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test MSE of a model trained elsewhere, from its reconstructions of the MNIST test set (in test-set order).")

    @Option(help: "The reconstructions: .npy (uint8, or float32/float64 in [0, 1]; (N, 28, 28), (N, 1, 28, 28), (N, 28, 28, 1) or (N, 784)), IDX or a folder of PNGs.")
    var images: String
    @Option(help: "Your copy of the test images, in the order you reconstructed them: checked image by image against the MNIST test set.")
    var originals: String?
    @Option(help: "MNIST folder (default: $MNIST_DIR, else data/mnist in the repo).") var data: String?
    @Flag(help: "Print the result as JSON on standard output.") var json = false

    func run() throws {
        let set = try ImageSetFile.load(images)
        let dataDirectory = MNIST.resolveDataDirectory(explicit: data, currentDirectory: FileManager.default.currentDirectoryPath)
        let test = try MNIST.load(split: .test, from: dataDirectory)
        let originalSet = try originals.map { (set: try ImageSetFile.load($0), path: $0) }
        let score = try ReconstructionMetrics.scoreOutside(set, path: images, test: test, originals: originalSet)
        set.notices.forEach(logLine)
        if json {
            print(try StableJSON.string(score))
        } else {
            print("images    \(images) (\(score.format)), \(score.imageCount) reconstructions of the MNIST test set"
                  + (score.orderChecked ? ", order checked against \(originals!)" : ""))
            print(String(format: "test MSE  %.6f", score.meanSquaredError))
        }
    }
}

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write samples of a run by the output's file type: .npy or IDX (uint8 N x 28 x 28), or a .png grid.")

    @Argument(help: "A run folder (out/runs/<run>) or its checkpoint.safetensors.") var runPath: String
    @Option(parsing: .unconditional, help: "Number of samples.") var count: Int
    @Option(help: "Output file: NAME.npy, NAME-idx3-ubyte or NAME.idx (IDX; add .gz to compress), or NAME.png (a grid).")
    var out: String
    @Option(parsing: .unconditional, help: "Seed of the sample draw.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Threads for BLAS.") var threads: Int = 2
    @Option(help: "Where samples come from: prior, gmm (fitted with seed 0 and cached in the run folder, as vae-eval does) or learned (vq_vae).")
    var sampler: String = "prior"
    @Option(help: "MNIST folder for the gmm fit (default: $MNIST_DIR, else data/mnist in the repo).") var data: String?
    @Flag(help: "Fail at once if another process is writing into the run folder (the gmm sampler's cache; default: wait).")
    var noWait = false

    func validate() throws {
        do { _ = try ImageSetFile.OutputFormat.of(out) } catch { throw ValidationError("--out: \(error)".replacingOccurrences(of: "invalid evaluation setting: ", with: "")) }
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
        // The gmm sampler writes its cache into the run folder; the others only read it.
        let lock = sampler == SamplerKind.gmm.rawValue
            ? try RunFolderLock(folder: folder.path, wait: !noWait, notice: logLine) : nil
        defer { lock?.release() }
        let checkpointBytes = try SafeTensorsArchive.readFile(folder.checkpoint)
        let model = try Checkpoint.read(from: folder.checkpoint).model
        guard model.configuration.imageSize == ImageSetFile.side * ImageSetFile.side else {
            throw EvaluationError.invalidSetting("the model makes \(model.configuration.imageSize)-pixel images, not 28x28")
        }
        let dataDirectory = MNIST.resolveDataDirectory(explicit: data, currentDirectory: FileManager.default.currentDirectoryPath)
        let prepared = try PreparedSampler.forRun(folder, model: model, kind: SamplerKind(rawValue: sampler)!,
                                                  dataDirectory: dataDirectory, log: logLine)
        var generator = SeededGenerator(seed: seed)
        let images = GenerationEvaluation.samples(from: prepared, count: count, generator: &generator)
        try ImageSetFile.write(images, count: count, to: out, text: [PNGFile.checkpointKey: SHA256.hexDigest(of: checkpointBytes)])
        print("\(count.counted("sample")) of \(folder.name) (\(sampler) sampler, seed \(seed)) -> \(out)")
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


// `vae-eval --help` shows the options of the default subcommand (evaluate one run) as well as the subcommands.
if let first = CommandLine.arguments.dropFirst().first, CommandLine.arguments.count == 2, ["--help", "-h", "help"].contains(first) {
    print(VAEEval.helpMessage())
    print("\nEVALUATION OPTIONS ('vae-eval [evaluate] RUN ...', the default subcommand):\n")
    print(VAEEval.helpMessage(for: Evaluate.self))
    exit(0)
}
VAEEval.main()
