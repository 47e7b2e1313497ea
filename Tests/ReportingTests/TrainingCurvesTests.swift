@testable import Evaluation
import Foundation
import Models
import Plotting
@testable import Reporting
import Testing
import Training

/// The training-curves plot keeps unlike losses apart: one panel per kind of training loss, each run in the panel of
/// its model kind, each panel's axis in that loss's unit.
@Suite struct TrainingCurvesTests {
    static let runs: [(name: String, kind: ModelKind)] = [
        ("vae_std_z20", .mlpVAE), ("wae", .wae), ("vae_conv", .convVAE), ("vq_vae", .vqVAE), ("gm_vae", .gmVAE), ("beta_vae_4", .mlpVAE),
    ]

    static func report(seeds: [Int]? = nil) -> StudyReport {
        let folders = Self.runs.flatMap { run in (seeds ?? [0]).map { (run, seeds == nil ? run.name : "\(run.name)-s\($0)") } }
        let entries = SeededReportTests.entries(folders.map { run, folder in
            var results = handMadeResults(folder, mse: 0.01, fid: [300])
            results.modelKind = run.kind.rawValue
            return (folder, results)
        })
        return StudyReport(entries: entries, title: "t", featureNetworkDescription: "LeNet")
    }

    static func check(_ curves: LinePanels) {
        #expect(curves.panels.map { $0.series.map(\.label) } == [
            ["vae_std_z20", "vae_conv", "gm_vae", "beta_vae_4"], ["wae"], ["vq_vae"],
        ])
        #expect(curves.panels.map(\.yLabel) == [
            "nats per image (log scale)", "squared error per image (log scale)",
            "nats + squared distance per image (log scale)",
        ])
        #expect(curves.panels[0].title.hasSuffix("BCE + β·KL") && curves.panels[1].title.hasSuffix("squared error + λ·MMD²"))
        #expect(Set(curves.panels.map(\.yLabel)).count == curves.panels.count, "two panels share a unit")
    }

    @Test func onePanelPerKindOfLoss() throws {
        let curves = Self.report().trainingCurves
        Self.check(curves)
        #expect(curves.panels[0].series[0].y == [100, 50])
        let png = try curves.render(format: .png, width: 900, panelHeight: 300)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // The PNG's height (IHDR bytes 20-23) is three panels.
        let height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(height == 900)
        let svg = String(decoding: try curves.render(format: .svg), as: UTF8.self)
        #expect(svg.contains("squared error per image") && svg.contains("nats per image"))
    }

    @Test func seedMeansAreGroupedTheSameWay() {
        let report = Self.report(seeds: [1, 2])
        #expect(report.hasSeededRuns)
        Self.check(report.seedTrainingCurves)
    }

    @Test func noRunsRenderAsOneEmptyPanel() throws {
        let curves = StudyReport(entries: [], title: "t", featureNetworkDescription: "L").trainingCurves
        #expect(curves.panels.isEmpty)
        let png = try curves.render(format: .png, width: 900, panelHeight: 300)
        #expect(png[20..<24].reduce(0) { $0 << 8 | Int($1) } == 300)
    }
}
