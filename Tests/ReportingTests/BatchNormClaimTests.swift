@testable import Evaluation
import Foundation
import Models
@testable import Reporting
import Testing
import Training

/// The verdict on "batch normalization did not significantly improve results but slowed training" from synthetic
/// per-seed values with known answers, and the report section that states it.
@Suite struct BatchNormClaimTests {
    static func comparison(_ metric: String, _ bn: [Double], _ baseline: [Double]) -> SeedComparison {
        SeedComparison(metric: metric, first: "bn", SeedStatistic(values: bn), second: "base", SeedStatistic(values: baseline))
    }

    static func pair(mse: ([Double], [Double]), seconds: ([Double], [Double])?) -> BatchNormClaim.PairTests {
        BatchNormClaim.PairTests(quality: [comparison("test MSE", mse.0, mse.1)],
                                 secondsPerEpoch: seconds.map { comparison("seconds per epoch", $0.0, $0.1) })
    }

    static let same = ([0.0100, 0.0102, 0.0098], [0.0101, 0.0099, 0.0100])
    static let better = ([0.0080, 0.0081, 0.0079], [0.0101, 0.0099, 0.0100])
    static let worse = ([0.0120, 0.0121, 0.0119], [0.0101, 0.0099, 0.0100])
    static let slower = ([30.0, 31, 29], [20.0, 21, 19])
    static let faster = ([10.0, 11, 9], [20.0, 21, 19])
    static let sameSpeed = ([20.0, 22, 19], [20.0, 21, 19])

    @Test func verdicts() {
        let verdict = BatchNormClaim.verdict
        #expect(verdict([Self.pair(mse: Self.same, seconds: Self.slower), Self.pair(mse: Self.same, seconds: Self.slower)]) == .confirmed)
        // A significant deterioration does not contradict "did not improve".
        #expect(verdict([Self.pair(mse: Self.worse, seconds: Self.slower)]) == .confirmed)
        #expect(verdict([Self.pair(mse: Self.better, seconds: Self.slower)]) == .contradicted)
        #expect(verdict([Self.pair(mse: Self.same, seconds: Self.slower), Self.pair(mse: Self.same, seconds: Self.faster)]) == .contradicted)
        #expect(verdict([Self.pair(mse: Self.same, seconds: Self.slower), Self.pair(mse: Self.same, seconds: Self.sameSpeed)]) == .notShown)
        #expect(verdict([Self.pair(mse: Self.same, seconds: nil)]) == .notShown)
        #expect(verdict([Self.pair(mse: ([0.01], [0.02]), seconds: ([30], [20]))]) == .notMeasured)
        #expect(verdict([]) == .notMeasured)
    }

    static func entry(_ folder: String, mse: Double, fid: [Double], secondsPerEpoch: Double) -> ReportEntry {
        let history = (1...2).map { EpochSummary(epoch: $0, loss: 100, reconstruction: 80, regularizer: 20, seconds: secondsPerEpoch) }
        return ReportEntry(folder: RunFolder(path: "/nonexistent/runs/" + folder), results: handMadeResults(folder, mse: mse, fid: fid),
                           training: TrainingRecord(runName: folder, epochs: 2, batchSize: 10, learningRate: 1e-3, seed: 1,
                                                    threads: 1, dataChecksum: "00", history: history),
                           referenceMSE: nil)
    }

    /// vae_std_z20_bn: the same MSE and FID as vae_std_z20 within the spread, 50 % slower per epoch; vae_conv_bn the same.
    @Test func reportStatesTheComparisonsAndTheVerdict() throws {
        var entries: [ReportEntry] = []
        for (run, slowdown) in [("vae_std_z20", 1.0), ("vae_std_z20_bn", 1.5), ("vae_conv", 1.0), ("vae_conv_bn", 1.5)] {
            for seed in 1...3 {
                let jitter = Double(seed - 2)
                entries.append(Self.entry("\(run)-s\(seed)", mse: 0.0100 + 0.0001 * jitter, fid: [400 + 5 * jitter, 401 + 5 * jitter],
                                          secondsPerEpoch: slowdown * (20 + jitter)))
            }
        }
        let md = StudyReport(entries: entries, title: "bn", featureNetworkDescription: "LeNet").markdown(figuresLink: "f")
        let section = try #require(md.components(separatedBy: "## Batch normalization against its baselines").last?
            .components(separatedBy: "## Analysis").first)
        let lines = section.split(separator: "\n").map(String.init)
        let speed = try #require(lines.first { $0.hasPrefix("| seconds per epoch | vae_std_z20_bn | vae_std_z20 |") })
        #expect(speed.contains("| 30.00 ± 1.50 | 20.00 ± 1.00 | +10.00 |") && speed.hasSuffix("| **larger than the spread** |"))
        let fid = try #require(lines.first { $0.hasPrefix("| FID | vae_conv_bn | vae_conv |") })
        #expect(fid.hasSuffix("| within the spread |"))
        #expect(lines.filter { $0.hasPrefix("| test MSE |") }.count == 2)
        #expect(section.contains("Claim \"\(BatchNormClaim.statement)\": **confirmed**"))

        // Without the batch-norm runs there is no such section.
        let plain = StudyReport(entries: entries.filter { !$0.folder.name.contains("_bn") }, title: "bn", featureNetworkDescription: "L")
        #expect(!plain.markdown(figuresLink: "f").contains("## Batch normalization"))
    }
}
