import Foundation

/// The name of a model family, as stored in checkpoints and study files (`model_kind`, `model.kind`). Each family
/// registers its kind with `ModelFactory`; the run names of the study map onto them.
public struct ModelKind: RawRepresentable, Hashable, Codable, Sendable, ExpressibleByStringLiteral,
                         CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }

    /// MLP VAE with a Bernoulli decoder (PyTorch examples/vae), optionally with residual encoder blocks
    /// and a KL weight beta.
    public static let mlpVAE: ModelKind = "mlp_vae"
    /// Convolutional VAE: two stride-2 convolutions down to 64 x 7 x 7, the mirror image up.
    public static let convVAE: ModelKind = "conv_vae"
    /// WAE-MMD (Tolstikhin et al. 2018): deterministic encoder, squared error + lambda * MMD to N(0, I).
    public static let wae: ModelKind = "wae"
    /// Gaussian-mixture VAE with a categorical y (Rui Shu's GMVAE formulation).
    public static let gmVAE: ModelKind = "gm_vae"
    /// VQ-VAE (van den Oord et al. 2017) with an EMA codebook over a 7 x 7 grid of codes.
    public static let vqVAE: ModelKind = "vq_vae"
}

/// How the GM-VAE family factors its approximate posterior.
public enum MixtureInference: String, Codable, Sendable, CaseIterable {
    /// q(y|x) q(z|x,y) with a network for q(y|x) and y as an input of q(z|x,y) (Rui Shu's GMVAE, Kingma et al.'s M2).
    case categorical
    /// q(z|x) from the vae_std encoder and q(y|x) the mixture's optimal responsibilities (VaDE, Jiang et al. 2017).
    case vade
}

/// Everything needed to rebuild a model's architecture. Stored as JSON in every checkpoint.
public struct ModelConfiguration: Codable, Equatable, Sendable {
    public var kind: ModelKind
    /// Pixels per image (28 x 28 = 784 for MNIST).
    public var imageSize: Int = 784
    public var hiddenSize: Int = 400
    public var latentSize: Int = 20
    /// Weight of the KL term (beta-VAE, Higgins et al. 2017); 1 is the plain VAE.
    public var beta: Double = 1
    /// Residual blocks h = h + ReLU(Linear(h)) after the first encoder layer.
    public var residualBlocks: Int = 0
    /// WAE: weight lambda of the MMD term.
    public var mmdWeight: Double = 10
    /// GM-VAE: number of mixture components K.
    public var mixtureComponents: Int = 10
    /// VQ-VAE: number of codebook vectors K and their size D.
    public var codebookSize: Int = 128
    public var codeSize: Int = 16
    /// VQ-VAE: commitment weight and EMA decay of the codebook.
    public var commitment: Double = 0.25
    public var codebookDecay: Double = 0.99
    /// MLP and conv VAE: batch normalisation (PyTorch's BatchNorm1d/2d) after each hidden linear layer (MLP) or
    /// hidden convolution (conv), before its ReLU. Written to JSON only when true, so configurations without it
    /// keep the JSON (and checkpoints) they had before the field existed.
    public var batchNorm: Bool = false
    /// GM-VAE: how q(y, z | x) is factored (see `MixtureInference`). The four GM-VAE options below are written to
    /// JSON only when they differ from their defaults, so the study's gm_vae keeps the JSON (and checkpoints) it had.
    public var mixtureInference: MixtureInference = .categorical
    /// GM-VAE: mixture weights p(y) = softmax(a) with learned logits a (VaDE's pi) instead of Uniform(K).
    public var learnedMixtureWeights: Bool = false
    /// GM-VAE: weight of KL(q(y|x) || p(y)) in the loss (1 is the bound; the Gaussian KL keeps weight beta).
    public var categoricalKLWeight: Double = 1
    /// GM-VAE: standard deviation of the initial prior means mu_y ~ N(0, s^2).
    public var priorMeanScale: Double = 0.1

    public init(kind: ModelKind, imageSize: Int = 784, hiddenSize: Int = 400, latentSize: Int = 20,
                beta: Double = 1, residualBlocks: Int = 0, batchNorm: Bool = false) {
        self.kind = kind
        self.imageSize = imageSize
        self.hiddenSize = hiddenSize
        self.latentSize = latentSize
        self.beta = beta
        self.residualBlocks = residualBlocks
        self.batchNorm = batchNorm
    }

    /// Reads the JSON of `jsonString()`; fields missing from older files take their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = ModelConfiguration(kind: try c.decode(ModelKind.self, forKey: .kind))
        self = defaults
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? defaults.imageSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? defaults.hiddenSize
        latentSize = try c.decodeIfPresent(Int.self, forKey: .latentSize) ?? defaults.latentSize
        beta = try c.decodeIfPresent(Double.self, forKey: .beta) ?? defaults.beta
        residualBlocks = try c.decodeIfPresent(Int.self, forKey: .residualBlocks) ?? defaults.residualBlocks
        mmdWeight = try c.decodeIfPresent(Double.self, forKey: .mmdWeight) ?? defaults.mmdWeight
        mixtureComponents = try c.decodeIfPresent(Int.self, forKey: .mixtureComponents) ?? defaults.mixtureComponents
        codebookSize = try c.decodeIfPresent(Int.self, forKey: .codebookSize) ?? defaults.codebookSize
        codeSize = try c.decodeIfPresent(Int.self, forKey: .codeSize) ?? defaults.codeSize
        commitment = try c.decodeIfPresent(Double.self, forKey: .commitment) ?? defaults.commitment
        codebookDecay = try c.decodeIfPresent(Double.self, forKey: .codebookDecay) ?? defaults.codebookDecay
        batchNorm = try c.decodeIfPresent(Bool.self, forKey: .batchNorm) ?? defaults.batchNorm
        mixtureInference = try c.decodeIfPresent(MixtureInference.self, forKey: .mixtureInference) ?? defaults.mixtureInference
        learnedMixtureWeights = try c.decodeIfPresent(Bool.self, forKey: .learnedMixtureWeights) ?? defaults.learnedMixtureWeights
        categoricalKLWeight = try c.decodeIfPresent(Double.self, forKey: .categoricalKLWeight) ?? defaults.categoricalKLWeight
        priorMeanScale = try c.decodeIfPresent(Double.self, forKey: .priorMeanScale) ?? defaults.priorMeanScale
    }

    /// Every field, except `batchNorm` when it is false and the GM-VAE options at their defaults (see there).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(latentSize, forKey: .latentSize)
        try c.encode(beta, forKey: .beta)
        try c.encode(residualBlocks, forKey: .residualBlocks)
        try c.encode(mmdWeight, forKey: .mmdWeight)
        try c.encode(mixtureComponents, forKey: .mixtureComponents)
        try c.encode(codebookSize, forKey: .codebookSize)
        try c.encode(codeSize, forKey: .codeSize)
        try c.encode(commitment, forKey: .commitment)
        try c.encode(codebookDecay, forKey: .codebookDecay)
        if batchNorm { try c.encode(batchNorm, forKey: .batchNorm) }
        if mixtureInference != .categorical { try c.encode(mixtureInference, forKey: .mixtureInference) }
        if learnedMixtureWeights { try c.encode(learnedMixtureWeights, forKey: .learnedMixtureWeights) }
        if categoricalKLWeight != 1 { try c.encode(categoricalKLWeight, forKey: .categoricalKLWeight) }
        if priorMeanScale != 0.1 { try c.encode(priorMeanScale, forKey: .priorMeanScale) }
    }

    enum CodingKeys: String, CodingKey {
        case kind, imageSize, hiddenSize, latentSize, beta, residualBlocks, mmdWeight, mixtureComponents, codebookSize,
             codeSize, commitment, codebookDecay, batchNorm, mixtureInference, learnedMixtureWeights, categoricalKLWeight,
             priorMeanScale
    }

    /// Checks the numbers make sense; the message names the offending field.
    public func validate() throws {
        func require(_ ok: Bool, _ message: String) throws { if !ok { throw ModelError.invalidConfiguration(message) } }
        try require(imageSize > 0, "imageSize must be positive, got \(imageSize)")
        try require(hiddenSize > 0, "hiddenSize must be positive, got \(hiddenSize)")
        try require(latentSize > 0, "latent size z must be positive, got \(latentSize)")
        try require(beta >= 0 && beta.isFinite, "beta must be >= 0, got \(beta)")
        try require(residualBlocks >= 0, "residualBlocks must be >= 0, got \(residualBlocks)")
        try require(mmdWeight >= 0 && mmdWeight.isFinite, "mmdWeight must be >= 0, got \(mmdWeight)")
        try require(mixtureComponents >= 1, "mixtureComponents must be >= 1, got \(mixtureComponents)")
        try require(codebookSize >= 1 && codeSize >= 1, "codebook size and code size must be >= 1, got \(codebookSize), \(codeSize)")
        try require(commitment >= 0 && (0..<1).contains(codebookDecay), "commitment must be >= 0 and decay in [0, 1)")
        guard let family = ModelFactory.family(of: kind) else {
            throw ModelError.invalidConfiguration("unknown model kind '\(kind)'; known: "
                                                  + ModelFactory.kinds.map(\.rawValue).joined(separator: ", "))
        }
        try require(!batchNorm || family.buildsBatchNorm,
                    "batchNorm is built only for "
                    + ModelFactory.kinds.filter { ModelFactory.family(of: $0)!.buildsBatchNorm }.map(\.rawValue)
                        .joined(separator: " and ") + ", not \(kind.rawValue)")
        let mixtureOptions = mixtureInference != .categorical || learnedMixtureWeights || categoricalKLWeight != 1
            || priorMeanScale != 0.1
        try require(!mixtureOptions || kind == .gmVAE,
                    "mixtureInference, learnedMixtureWeights, categoricalKLWeight and priorMeanScale are gm_vae options, not \(kind.rawValue)")
        try require(categoricalKLWeight >= 0 && categoricalKLWeight.isFinite,
                    "categoricalKLWeight must be >= 0, got \(categoricalKLWeight)")
        try require(priorMeanScale >= 0 && priorMeanScale.isFinite, "priorMeanScale must be >= 0, got \(priorMeanScale)")
        try require(mixtureInference == .categorical || categoricalKLWeight == 1,
                    "categoricalKLWeight applies to mixtureInference categorical only (vade's q(y|x) is the optimal one)")
    }

    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}

/// Errors about models and checkpoints, each one line naming what is wrong.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfiguration(String)
    case unsupportedCheckpoint(path: String, reason: String)
    case parameterMismatch(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(message):
            return "invalid model configuration: \(message)"
        case let .unsupportedCheckpoint(path, reason):
            return "\(path) is not a checkpoint this version can read: \(reason)"
        case let .parameterMismatch(path, reason):
            return "\(path): parameters do not match the model its metadata describes: \(reason)"
        }
    }
}
