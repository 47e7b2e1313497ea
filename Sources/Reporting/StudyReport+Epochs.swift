import Foundation
import Plotting
import Training

/// What more epochs change: MSE and FID of the longer study's snapshots against epochs.
extension StudyReport {
    /// The curves of `run`'s folders (`run` itself or its seeds `run-s<seed>`).
    func curves(of run: String) -> [EpochCurve] {
        epochCurves.filter { $0.run == run || Study.splitSeededName($0.run).run == run }
    }

    /// One line plot per metric (file name without extension, plot); none without curves.
    var epochPlots: [(name: String, plot: LinePlot)] {
        guard !epochCurves.isEmpty else { return [] }
        func plot(_ metric: StudyClaim.Metric, _ title: String, _ label: String) -> LinePlot {
            LinePlot(title: title, xLabel: "training epoch", yLabel: label,
                     series: epochCurves.map { c in
                         let v = c.values(metric)
                         return LinePlot.Series(label: c.run, x: v.map { Double($0.epoch) }, y: v.map(\.value))
                     }, logScaleY: metric == .mse)
        }
        return [("epochs-mse", plot(.mse, "Test MSE against training epochs (snapshots)", "test MSE (log scale)")),
                ("epochs-fid", plot(.fid, "FID of prior samples against training epochs (snapshots)", "FID (LeNet features)"))]
    }

    /// The section: how the runs were trained, the table (one row per epoch, MSE and FID per run) and the plots.
    func epochsSection(figuresLink: String) -> String? {
        guard !epochCurves.isEmpty else { return nil }
        var md = "## What more epochs change\n\n"
        md += "Runs trained longer with a snapshot of the checkpoint every few epochs (`checkpointEvery` in the study file, "
        md += "e.g. `fixtures/study-50-epochs.json`); each snapshot evaluated like a run: test MSE and the LeNet FID of "
        md += "10,000 prior samples (mean over draws). vq_vae's snapshots sample from the per-position code prior fitted "
        md += "on the training images at that epoch (not the learned MADE prior).\n\n"
        let epochs = Set(epochCurves.flatMap { $0.points.map(\.epoch) }).sorted()
        md += "| epoch | " + epochCurves.map { "\($0.run) MSE | \($0.run) FID" }.joined(separator: " | ") + " |\n"
        md += "|---:|" + epochCurves.map { _ in "---:|---:|" }.joined() + "\n"
        for epoch in epochs {
            md += "| \(epoch) | " + epochCurves.map { c in
                guard let p = c.points.first(where: { $0.epoch == epoch }) else { return "— | —" }
                return String(format: "%.5f", p.meanSquaredError) + " | " + (p.fid.map { String(format: "%.1f", $0) } ?? "—")
            }.joined(separator: " | ") + " |\n"
        }
        md += "\n"
        for (name, _) in epochPlots { md += "![\(name)](\(figuresLink)/\(name).png)\n\n" }
        return md
    }
}
