import Autodiff
@testable import Evaluation
import Foundation
import Models
@testable import Reporting
import Storage
import Testing
@testable import Training

/// The claims about more epochs from synthetic per-epoch results with known verdicts, the notebook's epochs section,
/// and a tiny training with snapshots: written every epoch, resumable with the same bits, and evaluated into
/// `epoch-results.json`.
@Suite struct EpochCurveTests {
    static func curve(_ run: String, mse: [Double], fid: [Double]? = nil, every: Int = 5) -> EpochCurve {
        EpochCurve(run: run, points: mse.enumerated().map { i, m in
            EpochCurve.Point(epoch: (i + 1) * every, meanSquaredError: m, fid: fid?[i], fidStandardDeviation: 1,
                             checkpointSHA256: "00")
        })
    }

    static let claim = StudyClaim(id: "e", statement: "needs more epochs", kind: .moreEpochs, metric: .mse,
                                  runs: ["vae_conv"], tolerance: 0.05, reference: "r")

    static func verdict(_ curves: [EpochCurve], claim: StudyClaim = claim) -> ClaimCheck {
        StudyClaims.check(claim, statistic: { _, _ in nil }, curves: { run in
            curves.filter { $0.run == run || Study.splitSeededName($0.run).run == run }
        })
    }

    /// Better by 20 % at epoch 50 than at epoch 10: confirmed; by 2 %: not shown; worse: contradicted; no snapshot
    /// beyond epoch 10, or none at all: not measured. Seeds' curves are averaged epoch by epoch.
    @Test func verdictsFollowTheCurves() {
        let falling = Self.curve("vae_conv", mse: [0.012, 0.010, 0.009, 0.0085, 0.0083, 0.0082, 0.0081, 0.0080, 0.0080, 0.0080])
        let check = Self.verdict([falling])
        #expect(check.verdict == .confirmed)
        #expect(check.tests[0] == "vae_conv: epoch 10 0.01000 → epoch 50 0.00800 (-20.0%); rose in 0 of 9 intervals", "\(check.tests)")
        #expect(Self.verdict([Self.curve("vae_conv", mse: [0.011, 0.0100, 0.0099, 0.0098])]).verdict == .notShown)
        #expect(Self.verdict([Self.curve("vae_conv", mse: [0.011, 0.0100, 0.0102, 0.0104])]).verdict == .contradicted)
        #expect(Self.verdict([Self.curve("vae_conv", mse: [0.011, 0.0100])]).verdict == .notMeasured)
        #expect(Self.verdict([]).verdict == .notMeasured)
        // Two seeds: 0.010 -> 0.008 and 0.010 -> 0.0096 average to 0.010 -> 0.0088 (-12 %).
        let seeds = [Self.curve("vae_conv-s1", mse: [0.011, 0.010, 0.008]), Self.curve("vae_conv-s2", mse: [0.011, 0.010, 0.0096])]
        let averaged = Self.verdict(seeds)
        #expect(averaged.verdict == .confirmed && averaged.tests[0].contains("epoch 15 0.00880 (-12.0%)"), "\(averaged.tests)")
        // FID, with a rise along the way (counted as instability).
        var fidClaim = Self.claim
        fidClaim.metric = .fid
        fidClaim.runs = ["vq_vae"]
        let vq = Self.curve("vq_vae", mse: [1, 1, 1, 1], fid: [90, 80, 95, 60])
        let fidCheck = Self.verdict([vq], claim: fidClaim)
        #expect(fidCheck.verdict == .confirmed && fidCheck.tests[0].contains("rose in 1 of 3 intervals"), "\(fidCheck.tests)")
        // Without the longer study the claim stays not measured, as before.
        #expect(StudyClaims.check(Self.claim) { _, _ in nil }.verdict == .notMeasured)
    }

    /// The notebook's claims table uses the curves and the epochs section shows them.
    @Test func notebookShowsTheCurvesAndTheirVerdict() throws {
        let runs = [("vae_conv", handMadeResults("vae_conv", mse: 0.0082, fid: [300]))]
        var report = StudyReport(entries: SeededReportTests.entries(runs), title: "t", featureNetworkDescription: "L",
                                 claims: [Self.claim])
        report.epochCurves = [Self.curve("vae_conv", mse: [0.012, 0.010, 0.009], fid: [320, 300, 290])]
        let md = report.markdown(figuresLink: "f")
        let row = try #require(md.split(separator: "\n").first { $0.hasPrefix("| needs more epochs |") })
        #expect(row.hasSuffix("| **confirmed** |"), "\(row)")
        #expect(md.contains("## What more epochs change"))
        #expect(md.contains("| 10 | 0.01000 | 300.0 |") && md.contains("| 15 | 0.00900 | 290.0 |"), "\(md)")
        #expect(md.contains("![epochs-mse](f/epochs-mse.png)") && md.contains("![epochs-fid](f/epochs-fid.png)"))
        #expect(report.epochPlots.map(\.name) == ["epochs-mse", "epochs-fid"])
        #expect(report.epochPlots[1].plot.series[0].y == [320, 300, 290])
        report.epochCurves = []
        #expect(!report.markdown(figuresLink: "f").contains("## What more epochs change"))
    }

    final class Scratch {
        let path = NSTemporaryDirectory() + "epoch-snapshots-" + UUID().uuidString
        init() { try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Raw IDX files of `count` random images (bytes as MNIST stores them) with labels.
    static func writeTinyMNIST(into folder: String, train: Int = 48, test: Int = 16) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var g = SeededGenerator(seed: 9)
        func bigEndian(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8((v >> $0) & 0xFF) } }
        func write(images count: Int, _ name: String) throws {
            let pixels = (0..<(count * 784)).map { _ in g.nextUniform() < 0.2 ? UInt8(g.boundedDraw(256)) : 0 }
            try Data([0, 0, 8, 3] + bigEndian(count) + bigEndian(28) + bigEndian(28) + pixels)
                .write(to: URL(fileURLWithPath: folder + "/" + name + "-images-idx3-ubyte"))
            try Data([0, 0, 8, 1] + bigEndian(count) + (0..<count).map { UInt8($0 % 10) })
                .write(to: URL(fileURLWithPath: folder + "/" + name + "-labels-idx1-ubyte"))
        }
        try write(images: train, "train")
        try write(images: test, "t10k")
    }

    static func tensors(_ path: String) throws -> [[Float]] {
        try Checkpoint.read(from: path).model.namedParameters.map(\.tensor.data)
    }

    /// Two epochs with a snapshot after each: the snapshots are written, the last is the final checkpoint, the final
    /// checkpoint has the bits of a run without snapshots, a run resumed from the first snapshot ends with the same
    /// bits (and writes the second snapshot), and each snapshot is evaluated into `epoch-results.json`.
    @Test func snapshotsAreWrittenResumedAndEvaluated() throws {
        let scratch = Scratch()
        let data = scratch.path + "/mnist"
        try Self.writeTinyMNIST(into: data)
        var settings = TrainingSettings(epochs: 2, batchSize: 16, learningRate: 1e-3, seed: 3, threads: 1)
        let configuration = ModelConfiguration(kind: .mlpVAE, hiddenSize: 16, latentSize: 4)
        func train(_ root: String, _ settings: TrainingSettings, resume: Bool = false) throws -> TrainingJob {
            let job = TrainingJob(runName: "tiny", configuration: configuration, settings: settings, dataDirectory: data,
                                  outputRoot: root, resume: resume)
            try job.run()
            return job
        }
        let plain = try train(scratch.path + "/plain", settings)
        settings.checkpointEvery = 1
        let snapped = try train(scratch.path + "/snapped", settings)
        let snapshots = TrainingJob.snapshots(runFolder: snapped.runFolder)
        #expect(snapshots.map(\.epoch) == [1, 2])
        #expect(snapshots.map(\.folder) == [snapped.runFolder + "/snapshots/epoch-001", snapped.runFolder + "/snapshots/epoch-002"])
        #expect(try Checkpoint.read(from: snapshots[0].folder + "/checkpoint.safetensors").training.completedEpochs == 1)
        #expect(FileManager.default.contents(atPath: snapshots[1].folder + "/checkpoint.safetensors")
            == FileManager.default.contents(atPath: snapped.checkpointPath))
        #expect(try Self.tensors(snapped.checkpointPath) == Self.tensors(plain.checkpointPath))

        // Resume from the first snapshot (as a run killed after epoch 1 before its second snapshot).
        let resumedRoot = scratch.path + "/resumed"
        let resumedFolder = resumedRoot + "/runs/tiny"
        try FileManager.default.createDirectory(atPath: resumedFolder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: snapshots[0].folder + "/checkpoint.safetensors",
                                         toPath: resumedFolder + "/checkpoint.safetensors")
        let resumed = try train(resumedRoot, settings, resume: true)
        #expect(TrainingJob.snapshots(runFolder: resumed.runFolder).map(\.epoch) == [1, 2])
        #expect(try Self.tensors(resumed.checkpointPath) == Self.tensors(plain.checkpointPath))
        #expect(try Self.tensors(TrainingJob.snapshotFolder(runFolder: resumed.runFolder, epoch: 1) + "/checkpoint.safetensors")
            == Self.tensors(snapshots[0].folder + "/checkpoint.safetensors"))

        // Resumed without checkpointEvery (`vae-train --model X --resume`): it goes on at the existing snapshots' interval.
        let plainResumeFolder = scratch.path + "/plain-resume/runs/tiny"
        try FileManager.default.createDirectory(atPath: plainResumeFolder + "/snapshots", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: snapshots[0].folder, toPath: plainResumeFolder + "/snapshots/epoch-001")
        try FileManager.default.copyItem(atPath: snapshots[0].folder + "/checkpoint.safetensors",
                                         toPath: plainResumeFolder + "/checkpoint.safetensors")
        #expect(TrainingJob.snapshotInterval(runFolder: plainResumeFolder) == 1)
        var unsnapped = settings
        unsnapped.checkpointEvery = nil
        let plainResumed = try train(scratch.path + "/plain-resume", unsnapped, resume: true)
        #expect(TrainingJob.snapshots(runFolder: plainResumed.runFolder).map(\.epoch) == [1, 2])
        #expect(TrainingJob.snapshotInterval(runFolder: plain.runFolder) == nil)

        // Evaluated: one point per snapshot, each the MSE of that snapshot's own results.json.
        let evaluation = EvaluationJob(options: EvaluationJob.Options(dataDirectory: data, generation: nil))
        let report = ReportJob(runsDirectory: snapped.outputRoot + "/runs", notebookPath: scratch.path + "/n.md", study: nil)
        let curves = try report.epochCurves(try report.runFolders(), evaluation: evaluation, log: { _ in })
        let curve = try #require(curves.first)
        #expect(curves.count == 1 && curve.run == "tiny" && curve.points.map(\.epoch) == [1, 2])
        for (point, snapshot) in zip(curve.points, snapshots) {
            let stored = try JSONDecoder().decode(EvaluationResults.self,
                                                  from: Data(contentsOf: URL(fileURLWithPath: snapshot.folder + "/results.json")))
            #expect(point.meanSquaredError == stored.reconstruction.meanSquaredError && point.meanSquaredError > 0)
            #expect(point.checkpointSHA256 == stored.checkpointSHA256 && point.fid == nil)
        }
        #expect(curve.points[0].checkpointSHA256 != curve.points[1].checkpointSHA256)
        let file = snapped.runFolder + "/" + TrainingJob.epochResultsFileName
        #expect(try JSONDecoder().decode(EpochCurve.self, from: Data(contentsOf: URL(fileURLWithPath: file))) == curve)

        // A snapshot caches reference features where its run does.
        #expect(RunEvaluation.defaultCacheDirectory(for: RunFolder(path: snapshots[0].folder))
            == RunEvaluation.defaultCacheDirectory(for: RunFolder(path: snapped.runFolder)))
        #expect(RunEvaluation.defaultCacheDirectory(for: RunFolder(path: "/x/out/runs/r/snapshots/epoch-005")) == "/x/out/cache")

        // --force replaces the run with its snapshots and per-epoch results.
        var force = TrainingJob(runName: "tiny", configuration: configuration, settings: TrainingSettings(epochs: 1, batchSize: 16, seed: 3, threads: 1),
                                dataDirectory: data, outputRoot: snapped.outputRoot, resume: false)
        force.force = true
        try force.run()
        #expect(TrainingJob.snapshots(runFolder: snapped.runFolder).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: file))
    }
}
