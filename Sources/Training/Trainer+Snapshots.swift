import Autodiff
import Foundation
import Models
import Storage

/// Snapshots: a copy of the checkpoint every `snapshotEvery` epochs, for metrics against epochs.
///
/// Layout: `RUN/snapshots/epoch-NNN/checkpoint.safetensors` (`TrainingJob.snapshotFolder`), each a checkpoint of
/// its own (with resume state) that `vae-eval` evaluates like a run folder. Before the last epoch the model's
/// `finishTraining` (e.g. vq_vae's code prior, fitted on the training images) is applied to the snapshot only: the
/// buffers are saved, fitted, written and restored, and it gets a copy of the generator, so the training's own
/// checkpoints and draws are those of a run without snapshots.
extension Trainer {
    /// Writes the snapshot of the completed epoch if it is a multiple of `snapshotEvery` (and, with `onlyIfMissing`,
    /// if there is none yet).
    func writeSnapshotIfDue(checkpointPath: String, onlyIfMissing: Bool) throws {
        let epoch = record.completedEpochs
        guard let every = snapshotEvery, epoch > 0, epoch % every == 0 else { return }
        let runFolder = URL(fileURLWithPath: checkpointPath).deletingLastPathComponent().path
        let folder = TrainingJob.snapshotFolder(runFolder: runFolder, epoch: epoch)
        let path = folder + "/checkpoint.safetensors"
        if onlyIfMissing && FileManager.default.fileExists(atPath: path) { return }
        try FileError.createFolder(folder)
        if record.isFinished {
            guard let bytes = FileManager.default.contents(atPath: checkpointPath) else {
                throw FileError.cannotRead(path: checkpointPath, reason: "the checkpoint just written is not readable")
            }
            try AtomicFile.write(bytes, to: path)
            return
        }
        let buffers = model.namedBuffers.map { $0.tensor.data }
        var copy = generator
        model.finishTraining(images: Tensor(shape: [data.count, model.configuration.imageSize], data: data.images),
                             generator: &copy)
        defer { for (saved, buffer) in zip(buffers, model.namedBuffers) { buffer.tensor.data = saved } }
        try writeCheckpoint(to: path)
    }
}
