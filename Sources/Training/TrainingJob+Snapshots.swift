import Foundation

/// Where a run's snapshots (`TrainingSettings.checkpointEvery`) and their per-epoch results live.
extension TrainingJob {
    /// The folder of a run's snapshots, derived from its training (removed with the checkpoint on `--force`, kept on
    /// `--resume`).
    public static let snapshotsFolderName = "snapshots"

    /// The per-epoch results of a run's snapshots (`vae-eval report`), derived from them.
    public static let epochResultsFileName = "epoch-results.json"

    /// `RUN/snapshots/epoch-NNN`: the snapshot after epoch `epoch`, a run folder of its own.
    public static func snapshotFolder(runFolder: String, epoch: Int) -> String {
        runFolder + "/" + snapshotsFolderName + "/" + String(format: "epoch-%03d", epoch)
    }

    /// The snapshots of `runFolder` that hold a checkpoint, by epoch.
    public static func snapshots(runFolder: String) -> [(epoch: Int, folder: String)] {
        let root = runFolder + "/" + snapshotsFolderName
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.compactMap { name -> (epoch: Int, folder: String)? in
            guard name.hasPrefix("epoch-"), let epoch = Int(name.dropFirst("epoch-".count)), epoch > 0,
                  FileManager.default.fileExists(atPath: root + "/" + name + "/checkpoint.safetensors") else { return nil }
            return (epoch, root + "/" + name)
        }.sorted { $0.epoch < $1.epoch }
    }
}
