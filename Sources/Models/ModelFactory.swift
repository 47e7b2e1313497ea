import Autodiff
import Synchronization

/// A model family: one architecture the factory can build from a configuration of its `kind`.
/// A new family is its own file with a type conforming to this protocol, and one registration line (an entry of
/// `builtIn` below, or a `ModelFactory.register` call for a family defined elsewhere, e.g. in tests). What only some families can do is a
/// capability protocol (`ContinuousLatentModel`, `DiscreteCodeModel`, ...), asked of the type or the model. Its
/// metatypes are Sendable (`SendableMetatype`), so the registry can hand them across threads.
public protocol ModelFamily: GenerativeModel, SendableMetatype {
    /// The name stored in checkpoints and study files.
    static var kind: ModelKind { get }
    /// Whether `ModelConfiguration.batchNorm` is built by this family. Default: false.
    static var buildsBatchNorm: Bool { get }
    /// The terms of the training loss per image (`LossBreakdown.total` over the batch), e.g. "BCE + β·KL".
    /// Default: the Bernoulli ELBO's.
    static var trainingLossTerms: String { get }
    /// The unit of that loss. Default: "nats per image".
    static var trainingLossUnit: String { get }
    /// A freshly initialised model of `configuration` (already validated); parameters drawn from `generator`.
    init(configuration: ModelConfiguration, generator: inout SeededGenerator)
    /// The model `configuration` describes, for a family whose options choose between classes. Default: `init`.
    static func make(configuration: ModelConfiguration, generator: inout SeededGenerator) -> any GenerativeModel
}

extension ModelFamily {
    public static var buildsBatchNorm: Bool { false }
    public static var trainingLossTerms: String { "BCE + β·KL" }
    public static var trainingLossUnit: String { "nats per image" }
    public static func make(configuration: ModelConfiguration, generator: inout SeededGenerator) -> any GenerativeModel {
        Self(configuration: configuration, generator: &generator)
    }
}

/// The one place that turns a configuration into a model.
public enum ModelFactory {
    /// The families of the study, in the order error messages list them.
    static let builtIn: [any ModelFamily.Type] = [MLPVAE.self, ConvVAE.self, WAE.self, GMVAE.self, VQVAE.self]

    private static let registry = Mutex<[any ModelFamily.Type]>(builtIn)

    /// Adds `family` (replacing a family of the same kind); from then on configurations and checkpoints of its
    /// kind are built by it.
    public static func register(_ family: any ModelFamily.Type) {
        registry.withLock { families in
            families.removeAll { $0.kind == family.kind }
            families.append(family)
        }
    }

    /// Every registered kind, in registration order.
    public static var kinds: [ModelKind] { registry.withLock { $0.map { $0.kind } } }

    /// The family registered for `kind`, or nil.
    public static func family(of kind: ModelKind) -> (any ModelFamily.Type)? {
        registry.withLock { families in families.first { $0.kind == kind } }
    }

    /// A freshly initialised model; parameters drawn from `generator`.
    public static func make(_ configuration: ModelConfiguration, generator: inout SeededGenerator) throws -> any GenerativeModel {
        try configuration.validate()
        return family(of: configuration.kind)!.make(configuration: configuration, generator: &generator)
    }
}

extension MLPVAE: ModelFamily {
    public static let kind = ModelKind.mlpVAE
    public static var buildsBatchNorm: Bool { true }
}

extension ConvVAE: ModelFamily {
    public static let kind = ModelKind.convVAE
    public static var buildsBatchNorm: Bool { true }
}

extension WAE: ModelFamily {
    public static let kind = ModelKind.wae
    public static var trainingLossTerms: String { "squared error + λ·MMD²" }
    public static var trainingLossUnit: String { "squared error per image" }
}

extension GMVAE: ModelFamily {
    public static let kind = ModelKind.gmVAE
    /// `mixtureInference` chooses the posterior: GMVAE's categorical q(y|x) network, or VaDE's optimal responsibilities.
    public static func make(configuration: ModelConfiguration, generator: inout SeededGenerator) -> any GenerativeModel {
        switch configuration.mixtureInference {
        case .categorical: GMVAE(configuration: configuration, generator: &generator)
        case .vade: VaDE(configuration: configuration, generator: &generator)
        }
    }
}

extension VQVAE: ModelFamily {
    public static let kind = ModelKind.vqVAE
    public static var trainingLossTerms: String { "BCE + commitment" }
    public static var trainingLossUnit: String { "nats + squared distance per image" }
}
