import Autodiff
import Datasets
import Foundation
import Models
import Storage

/// How generated images are drawn from a trained model at evaluation time; the checkpoint stays the same.
///
/// Adding a sampler is one case here (with its line in `inapplicability(to:)`) and one function that prepares it,
/// called from `prepare(for:context:)`.
public enum SamplerKind: String, CaseIterable, Codable, Sendable {
    /// The model's own prior (`GenerativeModel.sample`).
    case prior
    /// Ex-post density estimation: a Gaussian mixture fitted to the encoder means of the training images, sampled
    /// and decoded (`ExPostSampler`, cached next to the run by `MixtureSamplerCache`).
    case gmm
    /// vq_vae's learned autoregressive prior over its 7 x 7 code grid (`CodePrior`, a MADE trained by
    /// `vae-train prior` and stored next to the checkpoint as `code-prior.safetensors`): codes sampled position by
    /// position in raster order, then decoded.
    case learned

    /// Why this sampler does not apply to models of type `family`, or nil when it does: the gmm sampler needs a
    /// `ContinuousLatentModel`, the learned one a `DiscreteCodeModel`.
    public func inapplicability(to family: any GenerativeModel.Type) -> String? {
        switch self {
        case .prior:
            return nil
        case .gmm:
            return family is any ContinuousLatentModel.Type ? nil
                : "its codes are quantised codebook vectors, not a continuous latent"
        case .learned:
            return family is any DiscreteCodeModel.Type ? nil
                : "the learned sampler is an autoregressive prior over vq_vae's code grid"
        }
    }

    /// Every sampler that applies to models of type `family`, in declaration order.
    public static func applicable(to family: any GenerativeModel.Type) -> [SamplerKind] {
        allCases.filter { $0.inapplicability(to: family) == nil }
    }

    /// Makes the sampler ready to draw from `model`: nothing to do for the prior, a (cached) fit for the others.
    public func prepare(for model: any GenerativeModel, context: SamplerContext) throws -> PreparedSampler {
        switch self {
        case .prior:
            return .prior(of: model)
        case .gmm:
            return try MixtureSamplerCache.prepare(model: model, context: context)
        case .learned:
            return try PreparedSampler.learned(model: model, context: context)
        }
    }

    /// The file name of this sampler's 8 x 8 sample sheet in the run folder: the prior's is the run's `samples.png`.
    public var samplesImage: String { self == .prior ? "samples.png" : "samples-\(rawValue).png" }
}

/// Which samplers to evaluate: the ones named, or every one that applies to the run's model.
public enum SamplerRequest: Equatable, Sendable {
    case all
    case only([SamplerKind])

    /// From command-line values: names and comma lists (`gmm`, `prior,gmm`, `all`); none means the prior.
    public static func parse(_ values: [String]) throws -> SamplerRequest {
        let names = values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        if names.contains("all") { return .all }
        var kinds: [SamplerKind] = []
        for name in names {
            guard let kind = SamplerKind(rawValue: name) else { throw SamplerError.unknown(name) }
            kinds.append(kind)
        }
        return .only(kinds.isEmpty ? [.prior] : kinds)
    }

    /// The samplers to evaluate for `run`, a model of type `family`, without repeats and in declaration order.
    /// Throws `SamplerError.notApplicable` for a named sampler the model cannot use.
    public func resolve(for family: any GenerativeModel.Type, run: String) throws -> [SamplerKind] {
        switch self {
        case .all:
            return SamplerKind.applicable(to: family)
        case .only(let kinds):
            for sampler in kinds {
                if let reason = sampler.inapplicability(to: family) {
                    throw SamplerError.notApplicable(run: run, sampler: sampler, reason: reason,
                                                     applicable: SamplerKind.applicable(to: family))
                }
            }
            return SamplerKind.allCases.filter(kinds.contains)
        }
    }
}

/// Sampler requests that cannot be met; one line each.
public enum SamplerError: Error, CustomStringConvertible, Equatable {
    case unknown(String)
    case notApplicable(run: String, sampler: SamplerKind, reason: String, applicable: [SamplerKind])

    public var description: String {
        switch self {
        case .unknown(let name):
            return "unknown sampler '\(name)' (choose from \((SamplerKind.allCases.map(\.rawValue) + ["all"]).joined(separator: ", ")))"
        case let .notApplicable(run, sampler, reason, applicable):
            return "the \(sampler.rawValue) sampler does not apply to run \(run): \(reason); applicable samplers: "
                + applicable.map(\.rawValue).joined(separator: ", ")
        }
    }
}

/// What preparing a sampler may need besides the model.
public struct SamplerContext {
    public var folder: RunFolder
    public var checkpointSHA256: String
    /// `MNIST.checksumOfFiles` of the data folder.
    public var dataChecksum: String
    public var mixtureFit: MixtureFitSettings
    /// The training split, loaded only when a fit is computed.
    public var trainingSet: () throws -> MNISTSplit
    public var log: (String) -> Void

    public init(folder: RunFolder, checkpointSHA256: String, dataChecksum: String, mixtureFit: MixtureFitSettings,
                trainingSet: @escaping () throws -> MNISTSplit, log: @escaping (String) -> Void = { _ in }) {
        self.folder = folder; self.checkpointSHA256 = checkpointSHA256; self.dataChecksum = dataChecksum
        self.mixtureFit = mixtureFit; self.trainingSet = trainingSet; self.log = log
    }
}

/// A sampler ready to draw decoded images.
public struct PreparedSampler {
    public let kind: SamplerKind
    /// Wall seconds its fit took when it was computed (also when it was reused from a cache); 0 for the prior.
    public let fitSeconds: Double
    let draw: (Int, inout SeededGenerator) -> Tensor

    public init(kind: SamplerKind, fitSeconds: Double, draw: @escaping (Int, inout SeededGenerator) -> Tensor) {
        self.kind = kind; self.fitSeconds = fitSeconds; self.draw = draw
    }

    /// `count` decoded samples [count, imageSize] in [0, 1].
    public func sample(count: Int, generator: inout SeededGenerator) -> Tensor { draw(count, &generator) }
}

extension PreparedSampler {
    /// Prepares `kind` for the run in `folder` outside an evaluation (`vae-eval sample`): checks that it applies to
    /// the run's model, and for gmm reuses the cached fit (or fits and caches it) on the training set in
    /// `dataDirectory` with `mixtureFit`, the same cache an evaluation with that fit seed uses.
    public static func forRun(_ folder: RunFolder, model: any GenerativeModel, kind: SamplerKind, dataDirectory: String,
                              mixtureFit: MixtureFitSettings = MixtureFitSettings(),
                              log: @escaping (String) -> Void = { _ in }) throws -> PreparedSampler {
        _ = try SamplerRequest.only([kind]).resolve(for: type(of: model), run: folder.name)
        if kind == .prior { return .prior(of: model) }
        let checkpointSHA256 = SHA256.hexDigest(of: try SafeTensorsArchive.readFile(folder.checkpoint))
        let dataChecksum = kind == .gmm ? try MNIST.checksumOfFiles(in: dataDirectory) : ""
        let context = SamplerContext(folder: folder, checkpointSHA256: checkpointSHA256, dataChecksum: dataChecksum,
                                     mixtureFit: mixtureFit,
                                     trainingSet: { try MNIST.load(split: .train, from: dataDirectory) }, log: log)
        return try kind.prepare(for: model, context: context)
    }

    /// The learned code prior of a `DiscreteCodeModel` (vq_vae), loaded from the run folder and checked against the
    /// checkpoint; its fit cost is the prior's recorded encoding and training seconds.
    public static func learned(model: any GenerativeModel, context: SamplerContext) throws -> PreparedSampler {
        guard let coded = model as? any DiscreteCodeModel else {
            preconditionFailure("PreparedSampler.learned: needs a DiscreteCodeModel, got \(type(of: model))")
        }
        let file = try CodePrior.readFile(from: context.folder.codePrior, checkpointSHA256: context.checkpointSHA256)
        context.log("learned code prior: \(file.training.epochs) epochs, test NLL "
                    + String(format: "%.2f", file.training.history.last?.testNLL ?? .nan) + " nats per grid")
        return PreparedSampler(kind: .learned, fitSeconds: file.training.totalSeconds) { count, generator in
            coded.decode(codeIndices: file.prior.sampleCodes(count: count, generator: &generator), batchSize: 500)
        }
    }

    /// The model's own prior (`GenerativeModel.sample`); nothing to fit.
    public static func prior(of model: any GenerativeModel) -> PreparedSampler {
        PreparedSampler(kind: .prior, fitSeconds: 0) { model.sample(count: $0, generator: &$1) }
    }
}
