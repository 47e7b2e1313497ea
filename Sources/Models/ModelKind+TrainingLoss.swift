/// What the training loss of each model kind adds up, and in which unit: the training-curves plot puts only losses
/// of one kind on one axis. Each family states its own (`ModelFamily.trainingLossTerms`, `trainingLossUnit`).
extension ModelKind {
    /// The terms of the loss per image that `EpochSummary.loss` records (`LossBreakdown.total` over the batch size).
    public var trainingLossTerms: String { ModelFactory.family(of: self)?.trainingLossTerms ?? "loss of model kind \(rawValue)" }

    /// The unit of that loss.
    public var trainingLossUnit: String { ModelFactory.family(of: self)?.trainingLossUnit ?? "per image" }
}
