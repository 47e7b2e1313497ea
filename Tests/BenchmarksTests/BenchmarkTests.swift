@testable import Benchmarks
import Datasets
import Evaluation
import Foundation
import Testing
import Training

/// `vae-bench`'s evaluation timing on a tiny MNIST-shaped data set (the BLAS work it reports is checked in a process
/// of its own, by `BenchCommandTests`: the operation counter is global, and other suites run products concurrently).
@Suite(.serialized) struct BenchmarkTests {
    static let study: Study = {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
        return try! Study.load(from: Study.defaultPath(from: tests))
    }()

    /// `count` images of a label-dependent vertical stroke, pixel values in [0, 1].
    static func strokes(_ count: Int, offset: Int = 0) -> MNISTSplit {
        var pixels = [Float](repeating: 0, count: count * 784)
        var labels = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            let label = (i + offset) % 10
            labels[i] = UInt8(label)
            for row in 4..<24 { for c in (4 + 2 * label)..<(6 + 2 * label) { pixels[i * 784 + row * 28 + c] = Float(150 + (row + i) % 100) / 255 } }
        }
        return MNISTSplit(images: pixels, labels: labels, rows: 28, columns: 28)
    }

    /// Writes `split` as the IDX files `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte` in `folder`.
    static func write(_ split: MNISTSplit, prefix: String, to folder: String) throws {
        try IDX.write(split.images.map { UInt8(($0 * 255).rounded()) }, dimensions: [split.count, 28, 28],
                      to: folder + "/\(prefix)-images-idx3-ubyte")
        try IDX.write(split.labels, dimensions: [split.count], to: folder + "/\(prefix)-labels-idx1-ubyte")
    }

    static func leftovers() -> Set<String> {
        Set(((try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? [])
            .filter { $0.hasPrefix("vae-bench-\(getpid())-") })
    }

    /// The evaluation timing evaluates a real checkpoint against the test files in the data folder, gives the same
    /// results on 1 and 2 threads, and leaves nothing behind.
    @Test func evaluationScoresTheTrainedCheckpointAndCleansUp() throws {
        let run = try #require(try Self.study.runs(only: ["vae_std_z20"]).first)
        let data = NSTemporaryDirectory() + "vae-bench-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: data) }
        let training = Self.strokes(256)
        try Self.write(training, prefix: "train", to: data)
        try Self.write(Self.strokes(120, offset: 3), prefix: "t10k", to: data)
        let before = Self.leftovers()
        var report = BenchmarkReport(coreName: "test", sgemmPeak: [(1, 1)], epochs: [], peakResidentMiB: 0)
        try report.measureEvaluation(of: run, trainingData: training, dataDirectory: data, threadCounts: [1, 2],
                                     generation: GenerationSettings(samples: 100, draws: 2, kidSubsets: 4, kidSubsetSize: 50),
                                     log: { _ in })
        try #require(report.evaluations.count == 2)
        let (one, two) = (report.evaluations[0], report.evaluations[1])
        #expect(one.threads == 1 && two.threads == 2)
        #expect(one.testImages == 120 && one.samples == 100 && one.draws == 2)
        #expect(one.meanSquaredError > 0 && one.meanSquaredError < 0.25 && one.fid.isFinite && one.fid > 0)
        #expect(one.meanSquaredError == two.meanSquaredError && one.fid == two.fid)
        #expect(one.seconds > 0 && one.referenceSeconds > 0)
        #expect(report.markdown.contains("| vae_std_z20 (1 epoch) | 2 | 120 | 2 x 100 |"), "\(report.markdown)")
        #expect(Self.leftovers() == before, "temporary folders left behind")
    }
}
