import Foundation
import Models

/// Everything `vae-eval` measured for one run; written as `results.json` next to the checkpoint
/// (`fixtures/results.schema.json` describes the file).
public struct EvaluationResults: Codable, Equatable, Sendable {
    /// The version of the results.json layout this toolkit writes. 2: `schemaVersion` and `latent` added, the prior's
    /// generation metrics stored once (under `samplers.prior`). 3: a sampler's entry holds the metrics of each feature
    /// network (`generation`: LeNet's, now optional; `inception`), the settings name them (`features`,
    /// `inceptionNetworkSHA256`). Files without a version are version 1; versions 1 and 2 are still read.
    public static let currentSchemaVersion = 3

    /// The layout version the file was written with (nil: version 1).
    public var schemaVersion: Int?
    public var run: String
    public var modelKind: String
    public var checkpointSHA256: String
    public var parameterCount: Int
    public var trainingEpochs: Int
    public var trainingSeconds: Double
    public var reconstruction: ReconstructionMetrics
    public var evaluationSeed: UInt64
    public var samplesImage: String
    /// Everything besides the checkpoint that the figures depend on; with `checkpointSHA256` the key of
    /// the evaluation cache. Nil in results written before it existed (never reused).
    public var settings: EvaluationSettings?
    /// The model's own figures on the test set (`GenerativeModel.diagnostics(images:labels:)`).
    public var diagnostics: [String: Double]?
    /// Per evaluated sampler, keyed by its `SamplerKind` name ("prior", "gmm"): the generation metrics of its
    /// samples, the cost of fitting it and its 8 x 8 sample sheet. Nil without generation metrics, and in results
    /// written before samplers existed.
    public var samplers: [String: SamplerResults]?
    /// Active units and, with `--log-likelihood`, the importance-weighted log-likelihood; nil for discrete-latent
    /// models and in results written before it existed.
    public var latent: LatentResults?
    /// The top-level `generation` of a version-1 file written before `samplers` existed (read, never written).
    var legacyGeneration: GenerationMetrics?

    /// FID (mean +- std over draws), KID, precision/recall and class statistics of samples from the model's prior
    /// (`samplers["prior"]`); nil when skipped or when the prior sampler was not asked for.
    public var generation: GenerationMetrics? { samplers?[SamplerKind.prior.rawValue]?.generation ?? legacyGeneration }

    /// `generation`, when given and `samplers` has no prior entry, becomes that entry (no fit, sheet `samplesImage`).
    public init(run: String, modelKind: String, checkpointSHA256: String, parameterCount: Int, trainingEpochs: Int,
                trainingSeconds: Double, reconstruction: ReconstructionMetrics, evaluationSeed: UInt64, samplesImage: String,
                settings: EvaluationSettings?, generation: GenerationMetrics? = nil, diagnostics: [String: Double]?,
                samplers: [String: SamplerResults]? = nil, latent: LatentResults? = nil) {
        schemaVersion = Self.currentSchemaVersion
        self.run = run; self.modelKind = modelKind; self.checkpointSHA256 = checkpointSHA256
        self.parameterCount = parameterCount; self.trainingEpochs = trainingEpochs; self.trainingSeconds = trainingSeconds
        self.reconstruction = reconstruction; self.evaluationSeed = evaluationSeed; self.samplesImage = samplesImage
        self.settings = settings; self.diagnostics = diagnostics; self.samplers = samplers; self.latent = latent
        if let generation, samplers?[SamplerKind.prior.rawValue] == nil {
            self.samplers = (samplers ?? [:]).merging([SamplerKind.prior.rawValue: SamplerResults(
                generation: generation, fitSeconds: 0, samplesImage: samplesImage)]) { a, _ in a }
        }
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion, run, modelKind, checkpointSHA256, parameterCount, trainingEpochs, trainingSeconds, reconstruction,
             evaluationSeed, samplesImage, settings, generation, diagnostics, samplers, latent
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try c.decodeIfPresent(Int.self, forKey: .schemaVersion)
        run = try c.decode(String.self, forKey: .run)
        modelKind = try c.decode(String.self, forKey: .modelKind)
        checkpointSHA256 = try c.decode(String.self, forKey: .checkpointSHA256)
        parameterCount = try c.decode(Int.self, forKey: .parameterCount)
        trainingEpochs = try c.decode(Int.self, forKey: .trainingEpochs)
        trainingSeconds = try c.decode(Double.self, forKey: .trainingSeconds)
        reconstruction = try c.decode(ReconstructionMetrics.self, forKey: .reconstruction)
        evaluationSeed = try c.decode(UInt64.self, forKey: .evaluationSeed)
        samplesImage = try c.decode(String.self, forKey: .samplesImage)
        settings = try c.decodeIfPresent(EvaluationSettings.self, forKey: .settings)
        diagnostics = try c.decodeIfPresent([String: Double].self, forKey: .diagnostics)
        samplers = try c.decodeIfPresent([String: SamplerResults].self, forKey: .samplers)
        latent = try c.decodeIfPresent(LatentResults.self, forKey: .latent)
        legacyGeneration = try c.decodeIfPresent(GenerationMetrics.self, forKey: .generation)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        // A version-1 file read and written again keeps its layout (and so its lack of a version).
        try c.encodeIfPresent(schemaVersion, forKey: .schemaVersion)
        try c.encode(run, forKey: .run)
        try c.encode(modelKind, forKey: .modelKind)
        try c.encode(checkpointSHA256, forKey: .checkpointSHA256)
        try c.encode(parameterCount, forKey: .parameterCount)
        try c.encode(trainingEpochs, forKey: .trainingEpochs)
        try c.encode(trainingSeconds, forKey: .trainingSeconds)
        try c.encode(reconstruction, forKey: .reconstruction)
        try c.encode(evaluationSeed, forKey: .evaluationSeed)
        try c.encode(samplesImage, forKey: .samplesImage)
        try c.encodeIfPresent(settings, forKey: .settings)
        try c.encodeIfPresent(diagnostics, forKey: .diagnostics)
        try c.encodeIfPresent(samplers, forKey: .samplers)
        try c.encodeIfPresent(latent, forKey: .latent)
        // A version-1 file's generation without samplers is kept as it was read.
        if samplers?[SamplerKind.prior.rawValue] == nil { try c.encodeIfPresent(legacyGeneration, forKey: .generation) }
    }
}

/// One sampler's entry in `EvaluationResults.samplers`.
public struct SamplerResults: Codable, Equatable, Sendable {
    /// FID (mean +- std over draws) and the other metrics of its samples in the LeNet feature space, with the same
    /// settings as the prior's; nil when only other feature networks were asked for.
    public var generation: GenerationMetrics?
    /// The same metrics in pytorch-fid's Inception-v3 feature space (no class statistics); nil unless asked for
    /// (`--features inception`). Each entry records its own settings and network SHA-256.
    public var inception: GenerationMetrics?
    /// Wall seconds its fit took when it was computed (encoding the training set and EM for gmm); 0 for the prior.
    public var fitSeconds: Double
    /// File name of its 8 x 8 sample sheet in the run folder (`samples.png` for the prior, `samples-<name>.png`).
    public var samplesImage: String

    public init(generation: GenerationMetrics?, inception: GenerationMetrics? = nil, fitSeconds: Double, samplesImage: String) {
        self.generation = generation; self.inception = inception; self.fitSeconds = fitSeconds; self.samplesImage = samplesImage
    }

    /// The metrics in `kind`'s feature space.
    public func metrics(_ kind: FeatureNetworkKind) -> GenerationMetrics? {
        switch kind {
        case .lenet: return generation
        case .inception: return inception
        }
    }

    /// Sets the metrics in `kind`'s feature space.
    public mutating func setMetrics(_ metrics: GenerationMetrics?, for kind: FeatureNetworkKind) {
        switch kind {
        case .lenet: generation = metrics
        case .inception: inception = metrics
        }
    }
}

/// The settings of one evaluation (see `EvaluationResults.settings`).
public struct EvaluationSettings: Codable, Equatable, Sendable {
    public var seed: UInt64
    public var gridSize: Int
    public var scale: Int
    /// `MNIST.checksumOfFiles` of the data folder.
    public var dataChecksum: String
    /// Nil when the generation metrics are not computed.
    public var generation: GenerationSettings?
    /// SHA-256 of the LeNet feature-network file (nil without generation metrics or without LeNet features).
    public var featureNetworkSHA256: String?
    /// The feature networks evaluated (`FeatureNetworkKind` names); nil when LeNet's alone (and in files before v3).
    public var features: [String]?
    /// SHA-256 of the Inception weights file when "inception" is among `features`.
    public var inceptionNetworkSHA256: String?
    /// The samplers evaluated for this run (`SamplerKind` names, declaration order); set by `RunEvaluation.evaluate`
    /// from its request and the model. Nil without generation metrics and in results written before samplers existed.
    public var samplers: [String]?
    /// The gmm sampler's fit settings when "gmm" is among `samplers`.
    public var mixtureFit: MixtureFitSettings?
    /// SHA-256 of the run's `code-prior.safetensors` when "learned" is among `samplers` (a retrained prior
    /// invalidates the stored results).
    public var codePriorSHA256: String?
    /// How the log-likelihood was estimated; nil when it was not.
    public var logLikelihood: LogLikelihoodSettings?

    public init(seed: UInt64, gridSize: Int = 8, scale: Int = 1, dataChecksum: String,
                generation: GenerationSettings? = nil, featureNetworkSHA256: String? = nil) {
        self.seed = seed; self.gridSize = gridSize; self.scale = scale; self.dataChecksum = dataChecksum
        self.generation = generation; self.featureNetworkSHA256 = featureNetworkSHA256
    }
}


extension EvaluationSettings {
    /// The feature networks these settings measure in: none without generation settings, else `features`
    /// (LeNet alone when nil).
    public var featureKinds: [FeatureNetworkKind] {
        guard generation != nil else { return [] }
        return features.map { names in FeatureNetworkKind.allCases.filter { names.contains($0.rawValue) } } ?? [.lenet]
    }

    /// Records `kinds` (nil for LeNet alone, so that a LeNet evaluation's settings read as before).
    public mutating func setFeatureKinds(_ kinds: [FeatureNetworkKind]) {
        features = kinds == [.lenet] || kinds.isEmpty ? nil : FeatureNetworkKind.allCases.filter(kinds.contains).map(\.rawValue)
    }

    /// The SHA-256 of `kind`'s network file these settings record.
    public func networkSHA256(_ kind: FeatureNetworkKind) -> String? {
        kind == .lenet ? featureNetworkSHA256 : inceptionNetworkSHA256
    }
}
