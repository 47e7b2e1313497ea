import Autodiff
import Evaluation
import Foundation
import Models
import Plotting
import Storage
import Training

/// One evaluated run as the report sees it.
public struct ReportEntry {
    public var folder: RunFolder
    public var results: EvaluationResults
    public var training: TrainingRecord
    /// The reference study's published test MSE, when the study file has one.
    public var referenceMSE: Double?
    /// For a checkpoint made by `vae-eval import` (trained elsewhere): the file it came from and its SHA-256.
    public var imported: (file: String, sha256: String)?

    public init(folder: RunFolder, results: EvaluationResults, training: TrainingRecord, referenceMSE: Double?,
                imported: (file: String, sha256: String)? = nil) {
        self.folder = folder; self.results = results; self.training = training
        self.referenceMSE = referenceMSE; self.imported = imported
    }

    public var name: String { results.run }
    public var mse: Double { results.reconstruction.meanSquaredError }
    public var fid: FIDSummary? { results.generation?.fid }
}

/// Renders the study's tables, plots and analysis from evaluated runs: `notebooks-md/study-results.md`
/// with its figures in `notebooks-md/study-results/`. Nothing in it is typed by hand.
public struct StudyReport {
    public var entries: [ReportEntry]
    public var title: String
    /// What the FID is computed with, for plot titles and the text.
    public var featureNetworkDescription: String
    /// The reference study's claims to check (`fixtures/claims.json`); none: no claims section.
    public var claims: [StudyClaim]
    /// MSE and FID against epochs of the runs with snapshots (the longer study); none: no such section.
    public var epochCurves: [EpochCurve] = []

    public init(entries: [ReportEntry], title: String, featureNetworkDescription: String, claims: [StudyClaim] = []) {
        self.entries = entries
        self.title = title
        self.featureNetworkDescription = featureNetworkDescription
        self.claims = claims
    }

    /// Indices (into `entries`) of the runs on the MSE-FID Pareto front.
    public var paretoFront: [Int] {
        let withFID = entries.indices.filter { entries[$0].fid != nil }
        let points = withFID.map { ScatterPoint(label: entries[$0].name, x: entries[$0].mse, y: entries[$0].fid!.mean) }
        return TradeoffPlot.paretoFront(points).map { withFID[$0] }
    }

    public var tradeoffPlot: TradeoffPlot {
        let points = entries.compactMap { e -> ScatterPoint? in
            guard let fid = e.fid else { return nil }
            return ScatterPoint(label: e.name, x: e.mse, y: fid.mean, yError: fid.standardDeviation)
        }
        return TradeoffPlot(title: "Reconstruction vs generation (FID with \(featureNetworkDescription))",
                            subtitle: "test MSE (z = mean of q(z|x)) against FID of 10,000 prior samples; error bars: std over FID draws; lower is better on both axes",
                            xLabel: "test reconstruction MSE (per pixel, [0, 1] scale)", yLabel: "FID (LeNet features)",
                            points: points)
    }

    /// Training loss per epoch, one panel per kind of loss.
    public var trainingCurves: LinePanels {
        Self.trainingCurvePanels(title: "Training loss per epoch", curves: entries.map { e in
            (e.results.modelKind, LinePlot.Series(label: e.name, x: e.training.history.map { Double($0.epoch) },
                                                  y: e.training.history.map(\.loss)))
        })
    }

    /// Writes the plots (PNG, SVG, PDF) into `figures`, the notebook to `notebookPath` and the study as a tidy CSV
    /// beside it (`csvPath`); figure links in the notebook are relative to the notebook's folder.
    public func write(notebookPath: String, figures: String, extraFigures: [(title: String, file: String)] = [],
                      sheets: [String: [(title: String, file: String)]] = [:]) throws {
        try FileManager.default.createDirectory(atPath: figures, withIntermediateDirectories: true)
        let seeded = hasSeededRuns
        let (tradeoff, curves) = seeded ? (seedTradeoffPlot, seedTrainingCurves) : (tradeoffPlot, trainingCurves)
        for format in PlotFormat.allCases {
            try writePlot(tradeoff.render(format: format), to: figures + "/tradeoff.\(format.rawValue)")
            try writePlot(curves.render(format: format), to: figures + "/training-curves.\(format.rawValue)")
            if let inception = inceptionTradeoffPlot {
                try writePlot(inception.render(format: format), to: figures + "/tradeoff-inception.\(format.rawValue)")
            }
            if let best = bestSamplerTradeoffPlot {
                try writePlot(best.render(format: format), to: figures + "/tradeoff-best-sampler.\(format.rawValue)")
            }
            for (name, plot) in epochPlots {
                try writePlot(plot.render(format: format), to: figures + "/\(name).\(format.rawValue)")
            }
        }
        let notebookFolder = URL(fileURLWithPath: notebookPath).deletingLastPathComponent().standardizedFileURL.path
        let relative = Self.relativePath(from: notebookFolder, to: URL(fileURLWithPath: figures).standardizedFileURL.path)
        try AtomicFile.write(markdown(figuresLink: relative, extraFigures: extraFigures, sheets: sheets), to: notebookPath)
        try AtomicFile.write(tidyCSV, to: Self.csvPath(notebookPath: notebookPath))
    }

    /// The tidy CSV beside the notebook: `study-results.md` -> `study-results.csv`.
    public static func csvPath(notebookPath: String) -> String {
        URL(fileURLWithPath: notebookPath).deletingPathExtension().path + ".csv"
    }

    private func writePlot(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try AtomicFile.write(bytes: $0, to: path) }
    }

    static func relativePath(from folder: String, to target: String) -> String {
        let a = folder.split(separator: "/"), b = target.split(separator: "/")
        var common = 0
        while common < min(a.count, b.count) && a[common] == b[common] { common += 1 }
        let up = Array(repeating: "..", count: a.count - common)
        let path = (up + b[common...].map(String.init)).joined(separator: "/")
        return path.isEmpty ? "." : path
    }
}
