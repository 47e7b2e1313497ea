import Autodiff

/// Models whose latent is a grid of discrete codes: each image is `codeGridPositions` indices into a codebook of
/// `codebookSize` vectors. They get a learned prior over their grids (`CodePrior`, `vae-train prior`) as a second
/// training stage, and the `learned` sampler from it.
public protocol DiscreteCodeModel: GenerativeModel {
    /// Positions of one image's code grid (e.g. 7 x 7 = 49).
    var codeGridPositions: Int { get }
    /// Number of codes K each position chooses from.
    var codebookSize: Int { get }
    /// The nearest code of every grid position: [count, imageSize] -> count * codeGridPositions indices, image-major.
    func codeIndices(_ images: Tensor, batchSize: Int) -> [Int]
    /// Decoded images [count, imageSize] in [0, 1] from count * codeGridPositions indices, image-major.
    func decode(codeIndices: [Int], batchSize: Int) -> Tensor
}

extension DiscreteCodeModel {
    /// The learned prior over this model's code grids, default network.
    public var codePriorConfiguration: CodePriorConfiguration {
        CodePriorConfiguration(positions: codeGridPositions, codes: codebookSize)
    }
}

extension VQVAE: DiscreteCodeModel {
    public var codeGridPositions: Int { Self.positions }
    public var codebookSize: Int { configuration.codebookSize }
}

// Models with a mixture prior and sampling by component: `MixturePriorModel` (MixturePriorModel.swift).
