import Datasets
import Foundation
import Models
import Storage

/// Evaluates runs with one set of settings, loading the test set, the feature network and the reference
/// features at most once and only when something has to be recomputed (cached results are reused).
/// Used by `vae-eval RUN` and by `vae-eval report` over many runs.
public final class EvaluationJob {
    public struct Options {
        public var dataDirectory: String
        public var featureNetworkPath: String?
        /// Cached reference features; nil: `out/cache` beside the runs folder.
        public var cacheDirectory: String?
        public var seed: UInt64 = 0
        public var scale: Int = 1
        /// FID, KID and precision/recall settings; nil skips them.
        public var generation: GenerationSettings?
        public var force = false
        /// Never recompute: a run without stored results of its checkpoint and these settings is
        /// `EvaluationError.notEvaluated` (`vae-eval report --no-evaluate`).
        public var storedOnly = false
        /// The samplers whose samples get the generation metrics (the prior by default).
        public var samplers: SamplerRequest = .only([.prior])
        /// Wait for another process that holds a run folder's lock (else fail at once, naming it).
        public var waitForLock = true
        /// The importance-weighted log-likelihood's settings; nil skips it.
        public var logLikelihood: LogLikelihoodSettings?
        /// The feature networks the generation metrics are measured in (LeNet alone by default).
        public var features: [FeatureNetworkKind] = [.lenet]
        /// The Inception weights file (`--inception-weights`); nil: `InceptionWeights.fileName` in the cache folder.
        public var inceptionWeightsPath: String?
        /// How the gmm sampler is fitted; its seed is `seed`.
        public var mixtureFit: MixtureFitSettings { MixtureFitSettings(seed: seed) }

        public init(dataDirectory: String, featureNetworkPath: String? = nil, cacheDirectory: String? = nil,
                    seed: UInt64 = 0, scale: Int = 1, generation: GenerationSettings?, force: Bool = false,
                    samplers: SamplerRequest = .only([.prior])) {
            self.dataDirectory = dataDirectory; self.featureNetworkPath = featureNetworkPath
            self.cacheDirectory = cacheDirectory; self.seed = seed; self.scale = scale
            self.generation = generation; self.force = force; self.samplers = samplers
        }
    }

    public let options: Options
    let currentDirectory: String
    let log: (String) -> Void
    private var test: MNISTSplit?
    private var training: MNISTSplit?
    private var dataChecksum: String?
    private var network: FeatureNetwork?
    private var inception: InceptionFeatureNetwork?
    private var references: [String: ReferenceFeatures] = [:]

    public init(options: Options, currentDirectory: String = FileManager.default.currentDirectoryPath,
                log: @escaping (String) -> Void = { _ in }) {
        self.options = options
        self.currentDirectory = currentDirectory
        self.log = log
    }

    public func testSet() throws -> MNISTSplit {
        if let test { return test }
        let loaded = try MNIST.load(split: .test, from: options.dataDirectory)
        test = loaded
        return loaded
    }

    /// The training split (what the gmm sampler is fitted to), loaded on first use.
    public func trainingSet() throws -> MNISTSplit {
        if let training { return training }
        let loaded = try MNIST.load(split: .train, from: options.dataDirectory)
        training = loaded
        return loaded
    }

    public func featureNetwork() throws -> FeatureNetwork {
        if let network { return network }
        let loaded = try FeatureNetwork(path: FeatureNetwork.locate(explicit: options.featureNetworkPath, currentDirectory: currentDirectory))
        network = loaded
        return loaded
    }

    /// pytorch-fid's Inception-v3 from `options.inceptionWeightsPath` or the cache folder, loaded on first use;
    /// `InceptionWeightsError` (one line saying how to get the file) where there is none.
    public func inceptionNetwork() throws -> InceptionFeatureNetwork {
        if let inception { return inception }
        let path = try InceptionWeights.locate(explicit: options.inceptionWeightsPath)
        let loaded = try InceptionFeatureNetwork(path: path)
        log("Inception weights \(path) (SHA-256 \(loaded.sha256.prefix(12)))")
        inception = loaded
        return loaded
    }

    /// The feature network of `kind`.
    public func featureExtractor(_ kind: FeatureNetworkKind) throws -> any FeatureExtractor {
        switch kind {
        case .lenet: return try featureNetwork()
        case .inception: return try inceptionNetwork()
        }
    }

    func checksum() throws -> String {
        if let dataChecksum { return dataChecksum }
        let computed = try MNIST.checksumOfFiles(in: options.dataDirectory)
        dataChecksum = computed
        return computed
    }

    /// Reference features of the test set in `cacheDirectory` in `kind`'s feature space (computed and cached on first
    /// use, one file per network: `ReferenceCache`).
    public func reference(cacheDirectory: String, network kind: FeatureNetworkKind = .lenet) throws -> ReferenceFeatures {
        let key = kind.rawValue + ":" + cacheDirectory
        if let cached = references[key] { return cached }
        let test = try testSet()
        let network = try featureExtractor(kind)
        let (reference, wasCached) = try ReferenceCache.loadOrCompute(directory: cacheDirectory, network: network,
                                                                      images: test.images, count: test.count,
                                                                      dataChecksum: try checksum(),
                                                                      stage: "\(kind.displayName) features of the test set")
        log("\(kind == .lenet ? "" : kind.displayName + " ")reference features of \(reference.count) test images: "
            + "\(wasCached ? "cached" : "computed and cached") in \(cacheDirectory)")
        references[key] = reference
        return reference
    }

    /// Reference features of the training set in `cacheDirectory` in `kind`'s feature space (computed and cached on
    /// first use; keyed apart from the test set's).
    public func trainingReference(cacheDirectory: String, network kind: FeatureNetworkKind = .lenet) throws -> ReferenceFeatures {
        let key = "train:" + kind.rawValue + ":" + cacheDirectory
        if let cached = references[key] { return cached }
        let training = try trainingSet()
        let network = try featureExtractor(kind)
        let (reference, wasCached) = try ReferenceCache.loadOrCompute(directory: cacheDirectory, network: network,
                                                                      images: training.images, count: training.count,
                                                                      dataChecksum: "train-" + (try checksum()),
                                                                      stage: "\(kind.displayName) features of the training set")
        log("\(kind == .lenet ? "" : kind.displayName + " ")reference features of \(reference.count) training images: "
            + "\(wasCached ? "cached" : "computed and cached") in \(cacheDirectory)")
        references[key] = reference
        return reference
    }

    /// The run folder's lock (`RunFolderLock`), as the options say; log lines say whom it waits for.
    public func lock(_ folder: RunFolder) throws -> RunFolderLock {
        guard FileManager.default.fileExists(atPath: folder.checkpoint) else {
            throw EvaluationError.missingCheckpoint(folder.checkpoint)
        }
        return try RunFolderLock(folder: folder.path, wait: options.waitForLock, notice: log)
    }

    /// Evaluates one run, holding its folder's lock; returns its results and whether they were reused from its
    /// results.json.
    public func evaluate(_ folder: RunFolder) throws -> (results: EvaluationResults, reused: Bool) {
        let lock = try lock(folder)
        defer { lock.release() }
        guard FileManager.default.fileExists(atPath: folder.checkpoint) else {
            throw EvaluationError.missingCheckpoint(folder.checkpoint)
        }
        let kinds = options.generation == nil ? [] : FeatureNetworkKind.allCases.filter(options.features.contains)
        let network = kinds.contains(.lenet) ? try featureNetwork() : nil
        let inception = kinds.contains(.inception) ? try inceptionNetwork() : nil
        var settings = EvaluationSettings(seed: options.seed, gridSize: 8, scale: options.scale, dataChecksum: try checksum(),
                                          generation: options.generation, featureNetworkSHA256: network?.sha256)
        settings.setFeatureKinds(kinds)
        settings.inceptionNetworkSHA256 = inception?.sha256
        settings.logLikelihood = options.logLikelihood
        let cacheDirectory = options.cacheDirectory ?? RunEvaluation.defaultCacheDirectory(for: folder)
        return try RunEvaluation.evaluate(folder, testSet: testSet, settings: settings, samplers: options.samplers,
                                          mixtureFit: options.mixtureFit, trainingSet: trainingSet, featureNetwork: network,
                                          reference: network == nil ? nil : { try self.reference(cacheDirectory: cacheDirectory) },
                                          inception: inception.map { network in
                                              (network, { try self.reference(cacheDirectory: cacheDirectory, network: .inception) })
                                          },
                                          force: options.force, storedOnly: options.storedOnly, log: log)
    }
}
