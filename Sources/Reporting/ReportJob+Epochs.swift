import Evaluation
import Foundation
import Models
import Storage
import Training

/// The snapshots of runs trained with `checkpointEvery`: each evaluated as a run folder of its own (test MSE and the
/// prior's FID only), and the run's curve written to `RUN/epoch-results.json`.
extension ReportJob {
    /// The curve of every folder in `folders` that has snapshots, evaluating (or reusing the stored results of)
    /// each snapshot with `evaluation`'s data, feature network and FID settings, for the prior sampler only and
    /// without the log-likelihood; the reference features are cached where the run's are
    /// (`RunEvaluation.defaultCacheDirectory`).
    public func epochCurves(_ folders: [RunFolder], evaluation: EvaluationJob,
                            log: @escaping (String) -> Void) throws -> [EpochCurve] {
        var curves: [EpochCurve] = []
        var options = evaluation.options
        options.samplers = .only([.prior])
        options.logLikelihood = nil
        let job = EvaluationJob(options: options, log: log)
        for folder in folders {
            let snapshots = TrainingJob.snapshots(runFolder: folder.path)
            guard !snapshots.isEmpty else { continue }
            var points: [EpochCurve.Point] = []
            for snapshot in snapshots {
                let (results, reused) = try job.evaluate(RunFolder(path: snapshot.folder))
                log("\(folder.name) epoch \(snapshot.epoch): \(reused ? "cached results" : "evaluated")")
                let fid = results.generation?.fid
                points.append(EpochCurve.Point(epoch: snapshot.epoch, meanSquaredError: results.reconstruction.meanSquaredError,
                                               fid: fid?.mean, fidStandardDeviation: fid?.standardDeviation,
                                               checkpointSHA256: results.checkpointSHA256))
            }
            let curve = EpochCurve(run: folder.name, points: points)
            if !options.storedOnly {
                let lock = try evaluation.lock(folder)
                defer { lock.release() }
                try AtomicFile.write(StableJSON.string(curve), to: folder.path + "/" + TrainingJob.epochResultsFileName)
            }
            curves.append(curve)
        }
        return curves
    }
}
