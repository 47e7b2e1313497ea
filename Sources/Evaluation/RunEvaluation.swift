import Autodiff
import Datasets
import Foundation
import Imaging
import Models
import Plotting
import Storage

/// Evaluates a run from its checkpoint alone: test MSE, negative ELBO, model diagnostics, an 8 x 8 grid of
/// prior samples and, given a feature network, the generation metrics (FID, KID, precision/recall, classes) of
/// each requested sampler, with an 8 x 8 grid of each.
///
/// Caching: results.json records the checkpoint's SHA-256 and the `EvaluationSettings` (including the samplers);
/// when they answer the current request (`cachedResults`; the sample sheets, which record the checkpoint's SHA-256,
/// exist and match) the stored results are returned unchanged without recomputing anything, unless `force` is set.
/// Merging: what an evaluation does not recompute stays in results.json while valid for the checkpoint and
/// settings (`merged`): `--no-fid` keeps the stored FID, KID and precision/recall, one sampler keeps the others. A fitted sampler has its own cache next to the run
/// (`MixtureSamplerCache`), reused across evaluation settings.
public enum RunEvaluation {
    /// Evaluates without generation metrics, always recomputing (the original entry point).
    public static func evaluate(_ folder: RunFolder, testSet: MNISTSplit, seed: UInt64 = 0,
                                gridSize: Int = 8, scale: Int = 1) throws -> EvaluationResults {
        try evaluate(folder, testSet: { testSet },
                     settings: EvaluationSettings(seed: seed, gridSize: gridSize, scale: scale, dataChecksum: "unknown"),
                     force: true).results
    }

    /// The folder for cached reference features of runs in `folder`: `<root>/cache` when the run sits in
    /// `<root>/runs/<run>` (vae-train's layout, so out/cache), else `cache` beside the run folder; a snapshot
    /// `<run>/snapshots/epoch-NNN` uses its run's.
    public static func defaultCacheDirectory(for folder: RunFolder) -> String {
        var parent = URL(fileURLWithPath: folder.path).standardizedFileURL.deletingLastPathComponent()
        if parent.lastPathComponent == "snapshots" { parent = parent.deletingLastPathComponent().deletingLastPathComponent() }
        let root = parent.lastPathComponent == "runs" ? parent.deletingLastPathComponent() : parent
        return root.appendingPathComponent("cache").path
    }

    /// The stored results of `folder` if they answer an evaluation of this checkpoint with these settings (whose
    /// `samplers` are already resolved): the same checkpoint, seed, grid and data; with generation settings, the same
    /// generation settings and feature networks in an entry for each requested sampler and network (stored results may
    /// hold more samplers and networks; each entry records its own settings and network SHA-256); and every sample sheet
    /// present and recording this checkpoint's SHA-256.
    public static func cachedResults(_ folder: RunFolder, checkpointSHA256: String,
                                     settings: EvaluationSettings) -> EvaluationResults? {
        guard let stored = storedResults(folder), stored.checkpointSHA256 == checkpointSHA256, let old = stored.settings,
              old.seed == settings.seed, old.gridSize == settings.gridSize, old.scale == settings.scale,
              old.dataChecksum == settings.dataChecksum,
              settings.logLikelihood == nil || (old.logLikelihood == settings.logLikelihood && stored.latent?.logLikelihood != nil),
              sheetBelongs(folder.samples, to: checkpointSHA256)
        else { return nil }
        if let generation = settings.generation {
            let samplers = (settings.samplers ?? []).compactMap(SamplerKind.init(rawValue:))
            let networks = settings.featureKinds
            func answers(_ entry: SamplerResults?) -> Bool {
                networks.allSatisfy { kind in
                    guard let metrics = entry?.metrics(kind) else { return false }
                    return metrics.settings == generation && metrics.featureNetworkSHA256 == settings.networkSHA256(kind)
                }
            }
            guard let entries = stored.samplers, old.samplers != nil,
                  samplers.allSatisfy({ answers(entries[$0.rawValue]) }),
                  !samplers.contains(.gmm) || old.mixtureFit == settings.mixtureFit,
                  !samplers.contains(.learned) || old.codePriorSHA256 == settings.codePriorSHA256
            else { return nil }
        }
        let sheets = (stored.samplers ?? [:]).values.map { folder.path + "/" + $0.samplesImage }
        guard sheets.allSatisfy({ sheetBelongs($0, to: checkpointSHA256) }) else { return nil }
        return stored
    }

    /// results.json of `folder`, if it decodes.
    static func storedResults(_ folder: RunFolder) -> EvaluationResults? {
        guard let data = FileManager.default.contents(atPath: folder.results) else { return nil }
        return try? JSONDecoder().decode(EvaluationResults.self, from: data)
    }

    /// Whether the PNG at `path` exists and records `checkpointSHA256` (`PNGFile.checkpointKey`).
    public static func sheetBelongs(_ path: String, to checkpointSHA256: String) -> Bool {
        PNGFile.recordedCheckpoint(ofFileAt: path) == checkpointSHA256
    }

    /// `new` with what it did not recompute kept from `stored`, while still valid: the stored sampler entries of
    /// the same checkpoint and data, when `new` has no generation metrics (all of them, with their generation
    /// settings) or the same generation settings and feature network (those of samplers `new` did not evaluate);
    /// and, in the samplers `new` did evaluate, the metrics of the feature networks it did not measure in (each
    /// records its own settings and network SHA-256; a gmm entry needs the same fit settings).
    /// A kept learned-sampler entry needs the code prior it was measured with (`codePriorSHA256`, the current
    /// file's), and every kept entry its sample sheet of this checkpoint.
    static func merged(_ new: EvaluationResults, with stored: EvaluationResults?, folder: RunFolder,
                       codePriorSHA256: String?) -> EvaluationResults {
        guard let stored, stored.checkpointSHA256 == new.checkpointSHA256, let old = stored.settings,
              var settings = new.settings, old.dataChecksum == settings.dataChecksum, old.samplers != nil,
              let oldEntries = stored.samplers, !oldEntries.isEmpty else { return new }
        var computed = new.samplers ?? [:]
        let measured = Set(settings.featureKinds)
        for (name, entry) in computed {
            guard let old = oldEntries[name],
                  name != SamplerKind.learned.rawValue || (stored.settings?.codePriorSHA256 != nil && stored.settings?.codePriorSHA256 == codePriorSHA256),
                  name != SamplerKind.gmm.rawValue || stored.settings?.mixtureFit == settings.mixtureFit else { continue }
            var merged = entry
            for kind in FeatureNetworkKind.allCases where !measured.contains(kind) {
                if let metrics = old.metrics(kind) { merged.setMetrics(metrics, for: kind) }
            }
            computed[name] = merged
        }
        /// `samplers` with settings naming the networks their entries hold (SHA-256s of kept ones from `old`).
        func settled(_ samplers: [String: SamplerResults], _ settings: EvaluationSettings) -> EvaluationResults {
            var settings = settings
            if settings.generation != nil {
                let present = Set(samplers.values.flatMap { entry in FeatureNetworkKind.allCases.filter { entry.metrics($0) != nil } })
                settings.setFeatureKinds(FeatureNetworkKind.allCases.filter(present.contains))
                if !measured.contains(.lenet), present.contains(.lenet) { settings.featureNetworkSHA256 = old.featureNetworkSHA256 }
                if !measured.contains(.inception), present.contains(.inception) {
                    settings.inceptionNetworkSHA256 = old.inceptionNetworkSHA256
                }
            }
            var result = new
            result.samplers = samplers.isEmpty ? new.samplers : samplers
            result.settings = settings
            return result
        }
        if settings.generation != nil {
            guard old.generation == settings.generation,
                  settings.featureNetworkSHA256 == nil || old.featureNetworkSHA256 == settings.featureNetworkSHA256,
                  settings.inceptionNetworkSHA256 == nil || old.inceptionNetworkSHA256 == nil
                    || old.inceptionNetworkSHA256 == settings.inceptionNetworkSHA256
            else { return settled(computed, settings) }
        }
        var kept: [String: SamplerResults] = [:]
        for (name, entry) in oldEntries where computed[name] == nil {
            guard sheetBelongs(folder.path + "/" + entry.samplesImage, to: new.checkpointSHA256) || name == SamplerKind.prior.rawValue,
                  name != SamplerKind.learned.rawValue || (old.codePriorSHA256 != nil && old.codePriorSHA256 == codePriorSHA256)
            else { continue }
            kept[name] = entry
        }
        guard !kept.isEmpty else { return settled(computed, settings) }
        if settings.generation == nil {
            settings.generation = old.generation
            settings.featureNetworkSHA256 = old.featureNetworkSHA256
            settings.features = old.features
            settings.inceptionNetworkSHA256 = old.inceptionNetworkSHA256
        }
        if kept[SamplerKind.gmm.rawValue] != nil { settings.mixtureFit = old.mixtureFit }
        if kept[SamplerKind.learned.rawValue] != nil { settings.codePriorSHA256 = old.codePriorSHA256 }
        let all = computed.merging(kept) { a, _ in a }
        settings.samplers = SamplerKind.allCases.map(\.rawValue).filter { all[$0] != nil }
        return settled(all, settings)
    }

    /// Evaluates `folder` with `settings` (`featureNetwork` and `reference` are needed when
    /// `settings.generation` is set and its `featureKinds` hold LeNet; `inception` when they hold Inception) and the `samplers` requested (resolved for the run's model, recorded in
    /// `settings.samplers`; samplers other than the prior need generation settings and `trainingSet`, and the gmm
    /// sampler fits with `mixtureFit`). Returns the results and whether they were reused from results.json.
    /// `testSet`, `trainingSet` and `reference` are only called when something is recomputed; with `storedOnly` nothing
    /// is, and results that would need it are `EvaluationError.notEvaluated`.
    public static func evaluate(_ folder: RunFolder, testSet loadTestSet: () throws -> MNISTSplit, settings requested: EvaluationSettings,
                                samplers request: SamplerRequest = .only([.prior]), mixtureFit: MixtureFitSettings = MixtureFitSettings(),
                                trainingSet: (() throws -> MNISTSplit)? = nil,
                                featureNetwork: FeatureNetwork? = nil, reference: (() throws -> ReferenceFeatures)? = nil,
                                inception: (network: InceptionFeatureNetwork, reference: () throws -> ReferenceFeatures)? = nil,
                                force: Bool = false, storedOnly: Bool = false, log: @escaping (String) -> Void = { _ in })
        throws -> (results: EvaluationResults, reused: Bool) {
        guard FileManager.default.fileExists(atPath: folder.checkpoint) else {
            throw EvaluationError.missingCheckpoint(folder.checkpoint)
        }
        let fileBytes = try SafeTensorsArchive.readFile(folder.checkpoint)
        let checkpointSHA256 = SHA256.hexDigest(of: fileBytes)
        let checkpoint = try Checkpoint.read(from: folder.checkpoint)
        let model = checkpoint.model
        var samplers = try request.resolve(for: type(of: model), run: folder.name)
        if request == .all, samplers.contains(.learned), !FileManager.default.fileExists(atPath: folder.codePrior) {
            log("\(folder.name): no learned code prior (\(CodePrior.fileName)); skipping that sampler "
                + "(train one with 'vae-train prior \(folder.path)')")
            samplers.removeAll { $0 == .learned }
        }
        var settings = requested
        if settings.generation != nil {
            settings.samplers = samplers.map(\.rawValue)
            settings.mixtureFit = samplers.contains(.gmm) ? mixtureFit : nil
            settings.codePriorSHA256 = samplers.contains(.learned) && FileManager.default.fileExists(atPath: folder.codePrior)
                ? SHA256.hexDigest(of: try SafeTensorsArchive.readFile(folder.codePrior)) : nil
        } else if request != .all, samplers != [.prior] {
            throw EvaluationError.invalidSetting("the samplers are compared by their generation metrics: "
                + samplers.filter { $0 != .prior }.map(\.rawValue).joined(separator: ", ") + " need FID (drop --no-fid)")
        }
        if !force, let stored = cachedResults(folder, checkpointSHA256: checkpointSHA256, settings: settings) {
            return (stored, true)
        }
        guard !storedOnly else { throw EvaluationError.notEvaluated(run: folder.name, hasResults: FileManager.default.fileExists(atPath: folder.results)) }
        if let generation = settings.generation { try generation.validate() }
        let testSet = try loadTestSet()
        try checkTestSet(testSet, for: model, run: checkpoint.training.runName)
        let seed = settings.seed
        var generator = SeededGenerator(seed: seed)
        let metrics = ReconstructionMetrics.measure(model, on: testSet, generator: &generator)
        let prior = PreparedSampler.prior(of: model)
        try writeSheet(prior, model: model, run: checkpoint.training.runName, settings: settings,
                       checkpointSHA256: checkpointSHA256, to: folder.samples)
        let testImages = Tensor(shape: [testSet.count, testSet.pixelsPerImage], data: testSet.images)
        let diagnostics = model.diagnostics(images: testImages, labels: testSet.labels)
        let latent = LatentMetrics.results(for: model, test: testSet, likelihood: settings.logLikelihood, log: log)
        var samplerResults: [String: SamplerResults]?
        if let generationSettings = settings.generation {
            var networks: [(network: any FeatureExtractor, reference: ReferenceFeatures)] = []
            for kind in settings.featureKinds {
                switch kind {
                case .lenet:
                    guard let featureNetwork, let reference else {
                        preconditionFailure("RunEvaluation.evaluate: LeNet generation metrics need a feature network and reference features")
                    }
                    networks.append((featureNetwork, try reference()))
                case .inception:
                    guard let inception else {
                        preconditionFailure("RunEvaluation.evaluate: Inception generation metrics need the network and its reference features")
                    }
                    networks.append((inception.network, try inception.reference()))
                }
            }
            samplerResults = [:]
            for kind in samplers {
                let sampler: PreparedSampler
                if kind == .prior {
                    sampler = prior
                } else {
                    guard let trainingSet else {
                        preconditionFailure("RunEvaluation.evaluate: the \(kind.rawValue) sampler needs the training set")
                    }
                    let context = SamplerContext(folder: folder, checkpointSHA256: checkpointSHA256,
                                                 dataChecksum: settings.dataChecksum, mixtureFit: mixtureFit,
                                                 trainingSet: trainingSet, log: log)
                    sampler = try kind.prepare(for: model, context: context)
                    try writeSheet(sampler, model: model, run: checkpoint.training.runName, settings: settings,
                                   checkpointSHA256: checkpointSHA256, to: folder.path + "/" + kind.samplesImage)
                }
                log("sampler \(kind.rawValue):")
                var entry = SamplerResults(generation: nil, fitSeconds: sampler.fitSeconds, samplesImage: kind.samplesImage)
                for (network, features) in networks {
                    entry.setMetrics(try GenerationEvaluation.evaluate(model, sampler: sampler, network: network, reference: features,
                                                                       settings: generationSettings, log: log), for: network.kind)
                }
                samplerResults?[kind.rawValue] = entry
            }
        }
        let computed = EvaluationResults(
            run: checkpoint.training.runName, modelKind: model.configuration.kind.rawValue,
            checkpointSHA256: checkpointSHA256, parameterCount: model.parameterCount,
            trainingEpochs: checkpoint.training.completedEpochs, trainingSeconds: checkpoint.training.wallSeconds,
            reconstruction: metrics, evaluationSeed: seed, samplesImage: "samples.png",
            settings: settings, diagnostics: diagnostics, samplers: samplerResults, latent: latent)
        let currentPrior = FileManager.default.fileExists(atPath: folder.codePrior)
            ? (try? SafeTensorsArchive.readFile(folder.codePrior)).map(SHA256.hexDigest(of:)) : nil
        let stored = storedResults(folder)
        var results = merged(computed, with: stored, folder: folder, codePriorSHA256: currentPrior)
        // A log-likelihood this evaluation did not ask for stays while it belongs to this checkpoint.
        if results.latent != nil, results.latent?.logLikelihood == nil, let stored, stored.checkpointSHA256 == checkpointSHA256,
           let kept = stored.latent?.logLikelihood {
            results.latent?.logLikelihood = kept
            results.settings?.logLikelihood = stored.settings?.logLikelihood
        }
        try AtomicFile.write(try StableJSON.encode(results), to: folder.results)
        return (results, false)
    }

    /// Writes a `gridSize` x `gridSize` sheet of `sampler`'s samples, drawn from `SeededGenerator(seed + 1)`, titled
    /// with the run and the sampler (`SampleSheets.samplesCaptions`), recording the checkpoint's SHA-256 in the PNG.
    static func writeSheet(_ sampler: PreparedSampler, model: any GenerativeModel, run: String, settings: EvaluationSettings,
                           checkpointSHA256: String, to path: String) throws {
        var generator = SeededGenerator(seed: settings.seed &+ 1)
        let samples = sampler.sample(count: settings.gridSize * settings.gridSize, generator: &generator)
        let side = Int(Double(model.configuration.imageSize).squareRoot())
        let grid = ImageGrid(rows: settings.gridSize, columns: settings.gridSize, tileWidth: side, tileHeight: side,
                             scale: settings.scale)
        let captions = SampleSheets.samplesCaptions(run: run, sampler: sampler.kind.rawValue, count: samples.shape[0])
        try PNGFile.write(CaptionedSheet.render(grid.render(tiles: samples.data), grid: grid, captions: captions),
                          to: path, text: [PNGFile.checkpointKey: checkpointSHA256])
    }
}
