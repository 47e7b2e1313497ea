import Foundation
import Models

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
                  FileManager.default.fileExists(atPath: root + "/" + name + "/" + RunFolder.checkpointFileName) else { return nil }
            return (epoch, root + "/" + name)
        }.sorted { $0.epoch < $1.epoch }
    }

    /// The snapshot interval of `runFolder`'s existing snapshots (the greatest common divisor of their epochs), or nil
    /// without any: a resumed run goes on keeping snapshots as it did unless `checkpointEvery` is given.
    public static func snapshotInterval(runFolder: String) -> Int? {
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let epochs = snapshots(runFolder: runFolder).map(\.epoch)
        return epochs.isEmpty ? nil : epochs.reduce(0, gcd)
    }
}
