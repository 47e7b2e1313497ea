/// Errors of the evaluator, one line each.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case missingCheckpoint(String)
    case invalidSetting(String)
    case badImageSet(path: String, reason: String)
    /// No stored results of this checkpoint and these settings, and recomputing was not allowed.
    case notEvaluated(run: String, hasResults: Bool)
    /// `notEvaluated` of several runs at once (`vae-eval report --no-evaluate`).
    case runsNotEvaluated([String])

    public var description: String {
        switch self {
        case .invalidSetting(let message):
            return "invalid evaluation setting: \(message)"
        case let .badImageSet(path, reason):
            return "cannot use \(path) as an image set: \(reason)"
        case let .notEvaluated(run, hasResults):
            return "\(run) has \(hasResults ? "results of another checkpoint or other settings" : "no results.json"); evaluate it first"
        case .runsNotEvaluated(let runs):
            return "no stored results of these runs' checkpoints and settings: \(runs.joined(separator: ", ")); evaluate them first "
                + "(vae-eval report without --no-evaluate, or one task per run with --task-index)"
        case .missingCheckpoint(let path):
            return "no checkpoint at \(path) (give a run folder made by vae-train, or the checkpoint file itself)"
        }
    }
}
