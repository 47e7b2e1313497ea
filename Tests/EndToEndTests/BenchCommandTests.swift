import Foundation
import Testing
import TestSupport

/// `vae-bench` run as a user would, on a tiny data set, in a process of its own (its BLAS operation counter sees only
/// its own products).
@Suite(.tags(.slow), .skippedWhenFast) struct BenchCommandTests {
    /// The BLAS work reported for a vae_std_z20 epoch is the network's product count worked out by hand: forward
    /// 784x400 + 400x20 (mean) + 400x20 (log-variance) + 20x400 + 400x784 multiply-adds per image, backward twice
    /// that except the input's gradient (784x400), 2 FLOP per multiply-add: 3.28 MFLOP per image.
    @Test func epochReportsTheNetworksMatrixProductsAndCleansUp() throws {
        let folder = TemporaryFolder()
        let data = folder.path + "/mnist", scratch = folder.path + "/tmp"
        for path in [data, scratch] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        try TinyMNIST.write(to: data, trainCount: 2048, testCount: 100)
        let notebook = folder.path + "/figures.md"
        let result = try Executables.run("vae-bench", ["--data", data, "--runs", "vae_std_z20", "--threads", "1",
                                                       "--evaluate", "none", "--notebook", notebook],
                                         environment: ["TMPDIR": scratch + "/"], currentDirectory: Programs.repositoryRoot)
        try #require(result.status == 0, "vae-bench failed: \(result.stderr)")
        let forward = 784 * 400 + 400 * 20 + 400 * 20 + 20 * 400 + 400 * 784
        let gigaflops = Double(2048 * 2 * (3 * forward - 784 * 400)) / 1e9
        let written = try String(contentsOfFile: notebook, encoding: .utf8)
        let row = try #require(written.split(separator: "\n").first { $0.hasPrefix("| vae_std_z20 | 1 |") }, "\(written)")
        let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(cells[4] == String(format: "%.2f", gigaflops), "\(row)")
        #expect(!written.contains("| evaluation of |"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty, "temporary files left behind")
    }

    /// An unknown run for --evaluate: a one-line error naming it, a non-zero exit, no notebook written.
    @Test func unknownEvaluationRunIsAnError() throws {
        let folder = TemporaryFolder()
        let notebook = folder.path + "/figures.md"
        let result = try Executables.run("vae-bench", ["--data", folder.path, "--runs", "vae_std_z20", "--threads", "1",
                                                       "--evaluate", "vae_nonexistent", "--notebook", notebook],
                                         currentDirectory: Programs.repositoryRoot)
        #expect(result.status != 0)
        #expect(result.stderr.contains("vae_nonexistent"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: notebook))
    }

    /// Without the test split the evaluation cannot run: the command says so before it times anything (a benchmark
    /// of every run takes minutes), exits non-zero and writes no notebook.
    @Test func missingTestSplitFailsBeforeTiming() throws {
        let folder = TemporaryFolder()
        try TinyMNIST.write(to: folder.path, trainCount: 256, testCount: 10)
        for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] { try FileManager.default.removeItem(atPath: folder.path + "/" + name) }
        let notebook = folder.path + "/figures.md"
        let result = try Executables.run("vae-bench", ["--data", folder.path, "--runs", "vae_std_z20", "--threads", "1",
                                                       "--notebook", notebook], currentDirectory: Programs.repositoryRoot)
        #expect(result.status != 0)
        #expect(result.stderr.contains("t10k-images-idx3-ubyte"), "\(result.stderr)")
        #expect(!result.stderr.contains("sgemm"), "timed before failing: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: notebook))
    }
}

/// `vae-bench --inception N` alone (no training runs): the Inception table with N images per thread count and the
/// FLOP count per image worked out from the network (2 x 5.711 G multiply-adds).
@Suite(.tags(.slow), .skippedWhenFast) struct InceptionBenchCommandTests {
    @Test func inceptionCaseReportsImagesAndWork() throws {
        let folder = TemporaryFolder()
        let data = folder.path + "/mnist"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try TinyMNIST.write(to: data, trainCount: 16, testCount: 10)
        let notebook = folder.path + "/figures.md"
        let result = try Executables.run("vae-bench", ["--data", data, "--runs", "none", "--threads", "1", "--evaluate", "none",
                                                       "--inception", "2", "--notebook", notebook],
                                         currentDirectory: Programs.repositoryRoot)
        try #require(result.status == 0, "vae-bench failed: \(result.stderr)")
        let written = try String(contentsOfFile: notebook, encoding: .utf8)
        let row = try #require(written.split(separator: "\n").first { $0.hasPrefix("| random weights | 1 | 2 |") }, "\(written)")
        #expect(row.split(separator: "|").count == 10, "\(row)")
        #expect(written.contains("11.42 GFLOP per image (2 x the 5.711 G multiply-adds"))
        #expect(result.stderr.contains("Inception features, 1 thread(s): 2 images in "), "\(result.stderr)")

        let bad = try Executables.run("vae-bench", ["--data", data, "--runs", "none", "--inception", "-1"],
                                      currentDirectory: Programs.repositoryRoot)
        #expect(bad.status != 0 && bad.stderr.contains("--inception"), "\(bad.stderr)")
    }
}
