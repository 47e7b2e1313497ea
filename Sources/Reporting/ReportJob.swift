import Autodiff
import Datasets
import Evaluation
import Foundation
import Imaging
import Models
import Plotting
import Storage
import Training

/// `vae-eval report RUNS_DIR`: evaluates every run not yet evaluated (reusing cached results), renders
/// the sample sheets and plots, and writes the study notebook.
///
/// Layout: each run's sheets go next to its checkpoint (`samples.png`, `reconstructions.png`,
/// `interpolations.png`, `traversals.png`, `components.png` for gm_vae, `code-usage.png` for vq_vae);
/// the notebook's copies and the plots go to `<notebook folder>/study-results/`.
public struct ReportJob {
    public var runsDirectory: String
    public var notebookPath: String
    public var study: Study?
    /// Pixel upscaling of the sample sheets.
    public var scale: Int
    /// A folder of runs trained longer with snapshots (e.g. by `fixtures/study-50-epochs.json`) whose MSE and FID
    /// against epochs the notebook shows and the `moreEpochs` claims use (`epochCurves`), besides any snapshots of
    /// the runs in `runsDirectory`.
    public var epochRunsDirectory: String?

    public init(runsDirectory: String, notebookPath: String, study: Study?, scale: Int = 2) {
        self.runsDirectory = runsDirectory; self.notebookPath = notebookPath; self.study = study; self.scale = scale
    }

    public var figuresDirectory: String {
        URL(fileURLWithPath: notebookPath).deletingLastPathComponent().appendingPathComponent("study-results").path
    }

    /// Run folders under `runsDirectory` holding a checkpoint: the study's runs in study order (the seeds
    /// `<run>-s<seed>` of a run together, by seed), then the rest by name.
    public func runFolders() throws -> [RunFolder] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: runsDirectory) } catch {
            throw FileError.cannotRead(path: runsDirectory, reason: "no such folder of runs (train some with vae-train first)")
        }
        let order = Dictionary(uniqueKeysWithValues: (study?.runs ?? []).enumerated().map { ($1.name, $0) })
        return names.filter { FileManager.default.fileExists(atPath: RunFolder(path: runsDirectory + "/" + $0).checkpoint) }
            .map { (name: $0, split: Study.splitSeededName($0)) }
            .sorted { a, b in
                let (ia, ib) = (order[a.name] ?? order[a.split.run] ?? Int.max, order[b.name] ?? order[b.split.run] ?? Int.max)
                return (ia, a.split.run, a.split.seed ?? 0, a.name) < (ib, b.split.run, b.split.seed ?? 0, b.name)
            }
            .map(\.name)
            .map { RunFolder(path: runsDirectory + "/" + $0) }
    }

    @discardableResult
    public func run(evaluation: EvaluationJob, log: (String) -> Void) throws -> StudyReport {
        let folders = try runFolders()
        guard !folders.isEmpty else {
            throw FileError.cannotRead(path: runsDirectory, reason: "holds no run with a \(RunFolder.checkpointFileName)")
        }
        // From stored results alone (vae-eval report --no-evaluate): refuse before writing anything if any is missing.
        if evaluation.options.storedOnly { try requireStoredResults(folders, evaluation: evaluation) }
        try FileError.createFolder(figuresDirectory)
        let test = try evaluation.testSet()
        guard test.count >= 64 else {
            throw EvaluationError.invalidSetting("the report's sheets show 64 test images; the test set of \(evaluation.options.dataDirectory) holds \(test.count)")
        }
        var entries: [ReportEntry] = []
        var sheets: [String: [(title: String, file: String)]] = [:]
        var vaes: [(name: String, model: any GaussianVAE)] = []
        // Of several seeds of a run, only the lowest gets sample sheets and a KL series.
        let representatives = SeedAggregation.representativeFolders(folders.map(\.name))
        for folder in folders {
            let lock = try evaluation.lock(folder)  // held over the evaluation and the sheets
            defer { lock.release() }
            let (results, reused) = try evaluation.evaluate(folder)
            log("\(folder.name): \(reused ? "cached results" : "evaluated")")
            let checkpoint = try Checkpoint.read(from: folder.checkpoint)
            let reference = (study?.runs.first { $0.name == results.run }
                ?? study?.runs.first { $0.name == Study.splitSeededName(results.run).run })?.referenceMSE
            let imported = CheckpointImport.isImported(checkpoint)
                ? (file: checkpoint.extraMetadata[CheckpointImport.sourceKey] ?? "?",
                   sha256: checkpoint.extraMetadata[CheckpointImport.sourceDigestKey] ?? "?") : nil
            entries.append(ReportEntry(folder: folder, results: results, training: checkpoint.training, referenceMSE: reference,
                                       imported: imported))
            guard representatives.contains(folder.name) else { continue }
            sheets[results.run] = try writeSheets(checkpoint.model, run: results.run, folder: folder, test: test,
                                                  checkpointSHA256: results.checkpointSHA256)
                + (try copySamplerSheets(results, folder: folder))
            if let vae = checkpoint.model as? any GaussianVAE { vaes.append((results.run, vae)) }
        }
        var extra: [(title: String, file: String)] = []
        if vaes.count > 0 {
            try writeKLPerDimension(vaes, test: test)
            extra.append(("KL per latent dimension", "kl-per-dimension.png"))
        }
        let network = entries.compactMap { $0.results.generation }.first
        let claims = try ToolkitAssets.locate(StudyClaims.assetName).path.map { try StudyClaims.load(contentsOf: $0) } ?? []
        var curveFolders = folders
        if let epochRunsDirectory {
            curveFolders += try ReportJob(runsDirectory: epochRunsDirectory, notebookPath: notebookPath, study: nil).runFolders()
        }
        let curves = try withoutActuallyEscaping(log) { log in
            try epochCurves(curveFolders, evaluation: evaluation, log: log)
        }
        var report = StudyReport(entries: entries, title: study?.title ?? "VAE runs in \(runsDirectory)",
                                 featureNetworkDescription: network.map { "the shipped MNIST LeNet, \($0.featureLayer)" }
                                     ?? (entries.contains { $0.results.samplers?.values.contains { $0.inception != nil } == true }
                                         ? "pytorch-fid's Inception-v3 (pool3, 2048-d)" : "no feature network"),
                                 claims: claims)
        report.epochCurves = curves
        try report.write(notebookPath: notebookPath, figures: figuresDirectory, extraFigures: extra, sheets: sheets)
        log("wrote \(notebookPath) and its figures in \(figuresDirectory)")
        return report
    }

    /// Renders the run's sheets into its folder and into the figures folder, each recording the checkpoint's
    /// SHA-256; returns their titles and file names.
    func writeSheets(_ model: any GenerativeModel, run: String, folder: RunFolder, test: MNISTSplit,
                     checkpointSHA256: String) throws -> [(title: String, file: String)] {
        var written: [(String, String)] = []
        let text = [PNGFile.checkpointKey: checkpointSHA256]
        func emit(_ title: String, _ name: String, _ image: PixelImage) throws {
            try PNGFile.write(image, to: folder.path + "/" + name, text: text)
            try PNGFile.write(image, to: figuresDirectory + "/" + run + "-" + name, text: text)
            written.append((title, run + "-" + name))
        }
        var generator = SeededGenerator(seed: 2024)
        let images = test.imageTensor(first: 64)
        try emit("samples", "samples-sheet.png",
                 SampleSheets.captionedSamples(model, run: run, rows: 8, scale: scale, generator: &generator))
        try emit("reconstructions", "reconstructions.png",
                 SampleSheets.captionedReconstructions(model, run: run, images: images, scale: scale))
        try emit("interpolations", "interpolations.png",
                 SampleSheets.captionedInterpolations(model, run: run, images: images, scale: scale))
        if model is any ContinuousLatentModel {
            try emit("traversals", "traversals.png",
                     SampleSheets.captionedTraversals(model, run: run, image: test.imageTensor(first: 1), dimensions: 10, scale: scale))
        }
        if let gm = model as? any MixturePriorModel {
            let rows = gm.configuration.mixtureComponents, columns = 10
            let ys = (0..<rows).flatMap { Array(repeating: $0, count: columns) }
            let tiles = gm.sample(components: ys, generator: &generator)
            let grid = ImageGrid(rows: rows, columns: columns, scale: scale)
            let captions = SheetCaptions(title: [run, "samples z ~ p(z|y), one row per mixture component y"],
                                         rowLabels: (0..<rows).map { "y = \($0)" })
            try emit("one row per component", "components.png",
                     CaptionedSheet.render(grid.render(tiles: tiles.data), grid: grid, captions: captions))
        }
        if let vq = model as? any DiscreteCodeModel {
            let codes = vq.codeIndices(test.imageTensor(first: min(test.count, 10_000)), batchSize: 1000)
            var counts = [Double](repeating: 0, count: vq.codebookSize)
            for c in codes { counts[c] += 1 }
            let total = counts.reduce(0, +)
            let plot = BarPlot(title: "\(run): codebook usage on the test set",
                               xLabel: "code (sorted by use)", yLabel: "share of code positions (%)",
                               categories: counts.indices.map { "\($0)" },
                               series: [.init(label: "usage", values: counts.sorted(by: >).map { 100 * $0 / total })])
            let rendered = try plot.render(format: .png, width: 900, height: 400)
            let bytes = PNGText.inserting(text, into: [UInt8](rendered)) ?? [UInt8](rendered)
            try bytes.withUnsafeBytes { try AtomicFile.write(bytes: $0, to: folder.path + "/code-usage.png") }
            try bytes.withUnsafeBytes { try AtomicFile.write(bytes: $0, to: figuresDirectory + "/" + run + "-code-usage.png") }
            written.append(("codebook usage", run + "-code-usage.png"))
        }
        return written
    }

    /// Copies the sample sheet of each sampler other than the prior (written by the evaluation into the run folder)
    /// into the figures folder as `<run>-samples-<sampler>.png`; returns their titles and file names.
    func copySamplerSheets(_ results: EvaluationResults, folder: RunFolder) throws -> [(title: String, file: String)] {
        var copied: [(title: String, file: String)] = []
        let samplers = results.samplers ?? [:]
        for name in StudyReport.samplerNames([samplers]) where name != SamplerKind.prior.rawValue {
            guard let entry = samplers[name] else { continue }
            let source = folder.path + "/" + entry.samplesImage, file = results.run + "-" + entry.samplesImage
            guard let data = FileManager.default.contents(atPath: source) else {
                throw FileError.cannotRead(path: source, reason: "the \(name) sampler's sample sheet is missing (rerun with --force)")
            }
            guard RunEvaluation.sheetBelongs(source, to: results.checkpointSHA256) else {
                throw FileError.cannotRead(path: source, reason: "the \(name) sampler's sample sheet is of another checkpoint (rerun with --force)")
            }
            try AtomicFile.write(data, to: figuresDirectory + "/" + file)
            copied.append(("samples (\(name) sampler)", file))
        }
        return copied
    }

    /// Mean KL(q(z_j|x) || N(0, 1)) per latent dimension j on 2,000 test images, for the Gaussian VAEs: shows how
    /// beta switches dimensions off.
    func writeKLPerDimension(_ vaes: [(name: String, model: any GaussianVAE)], test: MNISTSplit) throws {
        let images = test.imageTensor(first: min(2000, test.count))
        let dims = vaes.map { $0.model.configuration.latentSize }.max()!
        var series: [BarPlot.Series] = []
        for (name, vae) in vaes {
            let (mean, logVariance) = vae.posterior(images)
            let z = vae.configuration.latentSize, n = images.shape[0]
            var kl = [Double](repeating: 0, count: dims)
            for b in 0..<n { for j in 0..<z {
                let m = Double(mean.data[b * z + j]), lv = Double(logVariance.data[b * z + j])
                kl[j] += -0.5 * (1 + lv - m * m - Foundation.exp(lv)) / Double(n)
            } }
            series.append(.init(label: name, values: kl))
        }
        let plot = BarPlot(title: "KL per latent dimension (mean over 2,000 test images)", xLabel: "latent dimension",
                           yLabel: "KL (nats)", categories: (1...dims).map(String.init), series: series)
        for format in PlotFormat.allCases {
            let bytes = try plot.render(format: format, width: 1100, height: 450)
            try bytes.withUnsafeBytes { try AtomicFile.write(bytes: $0, to: figuresDirectory + "/kl-per-dimension.\(format.rawValue)") }
        }
    }
}
