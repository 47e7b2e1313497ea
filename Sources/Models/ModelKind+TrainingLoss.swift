/// What the training loss of each model kind adds up, and in which unit: the training-curves plot puts only losses
/// of one kind on one axis.
extension ModelKind {
    /// The terms of the loss per image that `EpochSummary.loss` records (`LossBreakdown.total` over the batch size).
    public var trainingLossTerms: String {
        switch self {
        case .mlpVAE, .convVAE, .gmVAE: return "BCE + β·KL"
        case .wae: return "squared error + λ·MMD²"
        case .vqVAE: return "BCE + commitment"
        }
    }

    /// The unit of that loss.
    public var trainingLossUnit: String {
        switch self {
        case .mlpVAE, .convVAE, .gmVAE: return "nats per image"
        case .wae: return "squared error per image"
        case .vqVAE: return "nats + squared distance per image"
        }
    }
}
