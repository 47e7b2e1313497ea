import Evaluation
import Foundation
import Models
import Training

/// The report cut into tasks for a batch scheduler: the evaluations run one task per run folder
/// (`vae-eval report --task-index N`, the `StudyTasks` of the study), then the notebook is written from the stored
/// results alone (`vae-eval report --no-evaluate`).
extension ReportJob {
    /// Evaluates the run folder of task `run` (`<runsDirectory>/<run name>`) with the report's evaluation, reusing
    /// stored results that match, without writing the notebook. Writes only into that folder, under its
    /// `RunFolderLock` (taken by the evaluation), and the shared cache of reference features, whose files are
    /// replaced atomically.
    public func evaluateTask(_ run: Study.Run, evaluation: EvaluationJob) throws -> (results: EvaluationResults, reused: Bool) {
        try evaluation.evaluate(RunFolder(path: runsDirectory + "/" + run.name))
    }

    /// Refuses, listing them all in one line, the folders whose results.json is not that of their checkpoint and the
    /// evaluation's settings (the evaluation must be `storedOnly`, so that nothing is computed here).
    func requireStoredResults(_ folders: [RunFolder], evaluation: EvaluationJob) throws {
        precondition(evaluation.options.storedOnly, "requireStoredResults needs a storedOnly evaluation")
        var missing: [String] = []
        for folder in folders {
            do { _ = try evaluation.evaluate(folder) } catch let EvaluationError.notEvaluated(run, hasResults) {
                missing.append(run + (hasResults ? " (results of another checkpoint or other settings)" : " (no results.json)"))
            }
        }
        if !missing.isEmpty { throw EvaluationError.runsNotEvaluated(missing) }
    }
}
