import Autodiff

/// The one place that turns a configuration into a model.
public enum ModelFactory {
    /// A freshly initialised model; parameters drawn from `generator`.
    public static func make(_ configuration: ModelConfiguration, generator: inout SeededGenerator) throws -> any GenerativeModel {
        try configuration.validate()
        switch configuration.kind {
        case .mlpVAE: return MLPVAE(configuration: configuration, generator: &generator)
        case .convVAE: return ConvVAE(configuration: configuration, generator: &generator)
        case .wae: return WAE(configuration: configuration, generator: &generator)
        case .gmVAE:
            switch configuration.mixtureInference {
            case .categorical: return GMVAE(configuration: configuration, generator: &generator)
            case .vade: return VaDE(configuration: configuration, generator: &generator)
            }
        case .vqVAE: return VQVAE(configuration: configuration, generator: &generator)
        }
    }
}
