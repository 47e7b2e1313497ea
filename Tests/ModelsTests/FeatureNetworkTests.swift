import Autodiff
import Datasets
import Evaluation
import Foundation
import LinearAlgebra
import Models
import Optimizers
import Storage
import Testing

/// The repository root, from this file's path (Tests/ModelsTests/FeatureNetworkTests.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
/// Real MNIST beside the repository checkout (../shared/data/mnist from the repo root), if present.
let sharedMNIST = URL(fileURLWithPath: repositoryRoot + "/../shared/data/mnist").standardizedFileURL.path
let sharedMNISTExists = FileManager.default.fileExists(atPath: sharedMNIST + "/t10k-images-idx3-ubyte.gz")

/// The shipped LeNet feature network and the LeNet class.
@Suite struct FeatureNetworkTests {
    static var shippedPath: String { repositoryRoot + "/" + FeatureNetwork.repositoryRelativePath }

    /// The committed weights classify the real test set with exactly the accuracy recorded in their metadata,
    /// and the recorded number of dead units of the chosen feature layer is what they have.
    @Test(.enabled(if: sharedMNISTExists, "real MNIST not found at ../shared/data/mnist"))
    func shippedNetworkClassifiesRealTestDigits() throws {
        let network = try FeatureNetwork(path: Self.shippedPath)
        let test = try MNIST.load(split: .test, from: sharedMNIST)
        let outputs = network.measure(test.images, count: test.count)
        let correct = zip(outputs.predictions, test.labels).filter { $0 == Int($1) }.count
        let recorded = try #require(network.metadata["test_correct"].flatMap(Int.init))
        #expect(correct == recorded, "accuracy \(correct)/\(test.count), metadata says \(recorded)")
        #expect(Double(correct) / Double(test.count) >= 0.99)
        #expect(network.metadata["test_accuracy"] == String(format: "%.4f", Double(correct) / Double(test.count)))
        let dead = LeNet.deadUnits(features: outputs.features, dimension: 128).count
        #expect(String(dead) == network.metadata["dead_units_" + network.layer.rawValue])
        #expect(network.layer == .fc1PreReLU && dead == 0)
        // The data the metadata names is the data used here.
        #expect(network.metadata["data_checksum"] == (try MNIST.checksumOfFiles(in: sharedMNIST)))
    }

    @Test func shippedNetworkRecordsItsProvenance() throws {
        let network = try FeatureNetwork(path: Self.shippedPath)
        for key in ["dataset", "preprocessing", "feature_layer", "test_accuracy", "training_command", "seed",
                    "dead_units_fc1_pre_relu", "dead_units_fc1_post_relu"] {
            #expect(network.metadata[key] != nil, "metadata has no \(key)")
        }
        #expect(network.metadata["training_command"]?.hasPrefix("vae-train classifier") == true)
        #expect(network.sha256.count == 64)
    }

    /// Found from anywhere inside the repository by walking up to Package.swift, and from outside through the
    /// executable's own checkout (this test binary's).
    @Test func locatorFindsTheShippedFile() throws {
        let fromSubfolder = try FeatureNetwork.locate(explicit: nil, currentDirectory: repositoryRoot + "/Sources/Models")
        #expect(URL(fileURLWithPath: fromSubfolder).standardizedFileURL.path == URL(fileURLWithPath: Self.shippedPath).standardizedFileURL.path)
        let fromOutside = try FeatureNetwork.locate(explicit: nil, currentDirectory: "/")
        #expect(FileManager.default.fileExists(atPath: fromOutside))
        #expect(throws: FeatureNetworkError.self) {
            try FeatureNetwork.locate(explicit: "/nonexistent/net.safetensors", currentDirectory: repositoryRoot)
        }
        #expect(throws: FeatureNetworkError.self) {
            try FeatureNetwork.locate(explicit: nil, currentDirectory: "/", executableFolder: "/nonexistent/bin")
        }
    }

    @Test func writeThenLoadRoundTrips() throws {
        let folder = NSTemporaryDirectory() + "lenet-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var g = SeededGenerator(seed: 3)
        let network = LeNet(generator: &g)
        try network.write(to: folder + "/n.safetensors", metadata: ["feature_layer": "fc1_post_relu"])
        let loaded = try FeatureNetwork(path: folder + "/n.safetensors")
        #expect(loaded.layer == .fc1PostReLU)
        for ((name, a), (_, b)) in zip(network.namedParameters, loaded.network.namedParameters) {
            #expect(a.data == b.data, "\(name) differs")
        }
        #expect(network.parameterCount == 832 + 51_264 + 131_200 + 1_290)
    }

    /// A file with the wrong shapes (or not a network at all) is refused with one line naming it.
    @Test func wrongShapesGiveOneLineError() throws {
        let folder = NSTemporaryDirectory() + "lenet-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var g = SeededGenerator(seed: 4)
        var archive = SafeTensorsArchive(metadata: ["format": LeNet.format])
        for (name, tensor) in LeNet(generator: &g).namedParameters {
            let shape = name == "fc1.weight" ? [64, 1024] : tensor.shape
            archive.set(name, floats: [Float](repeating: 0, count: shape.reduce(1, *)), shape: shape)
        }
        let path = folder + "/wrong.safetensors"
        try archive.write(to: path)
        do {
            _ = try FeatureNetwork(path: path)
            Issue.record("a wrongly shaped network was accepted")
        } catch let error as FeatureNetworkError {
            let message = error.description
            #expect(message.contains(path) && message.contains("fc1.weight") && message.contains("[64, 1024]"))
            #expect(!message.contains("\n"))
        }
        try Data("not safetensors".utf8).write(to: URL(fileURLWithPath: folder + "/junk.safetensors"))
        #expect(throws: FeatureNetworkError.self) { try FeatureNetwork(path: folder + "/junk.safetensors") }
    }

    @Test func deadUnitsAreConstantColumns() {
        // 3 rows x 4 units: unit 1 always 0, unit 3 always 2.5.
        let features: [Float] = [1, 0, -1, 2.5, 2, 0, 0, 2.5, 3, 0, 1, 2.5]
        #expect(LeNet.deadUnits(features: features, dimension: 4) == [1, 3])
    }

    /// A few Adam steps of the project's own training code lower the cross-entropy of a fixed batch.
    @Test func crossEntropyTrainingLowersTheLoss() {
        var g = SeededGenerator(seed: 9)
        let network = LeNet(generator: &g)
        let images = Tensor(shape: [16, 784], data: (0..<(16 * 784)).map { _ in g.nextUniform() })
        let labels = (0..<16).map { $0 % 10 }
        let adam = Adam(parameters: network.parameters, learningRate: 1e-3)
        var losses: [Float] = []
        for _ in 0..<5 {
            adam.zeroGradients()
            let loss = Tensor.softmaxCrossEntropy(logits: network(images), labels: labels)
            losses.append(loss.scalar)
            loss.backward()
            adam.update()
        }
        #expect(losses.last! < losses.first!, "losses \(losses)")
        let outputs = network.infer(images.data, count: 16, batchSize: 7)
        #expect(outputs.features.count == 16 * 128 && outputs.probabilities.count == 160 && outputs.predictions.count == 16)
        #expect(zip(stride(from: 0, to: 160, by: 10), 0..<16).allSatisfy { start, _ in
            abs(outputs.probabilities[start..<(start + 10)].reduce(0, +) - 1) < 1e-5
        })
    }

    /// The features of an image do not depend on the batch it was inferred in beyond what the BLAS kernel itself
    /// does: the evaluation's batch size is a memory setting (`LeNet.infer`), not a change of results. 520 images in
    /// batches of 500 (blocks misaligned with those of 250) and 250. OpenBLAS's SkylakeX/Cooperlake sgemm gives each
    /// row of C the same bits whatever the number of rows in the call; its Haswell/Zen kernels do not (rows near
    /// their edge-kernel panels change in the last bits). So the features are required to be bit-identical exactly
    /// when `sgemmRowsIndependentOfRowCount()` finds the kernel row-independent, and within 1e-5 relative always.
    @Test func inferenceFeaturesDoNotDependOnTheBatchSize() {
        var g = SeededGenerator(seed: 12)
        let network = LeNet(generator: &g)
        let count = 520
        let pixels = (0..<(count * 784)).map { _ in g.nextUniform() }
        let large = network.infer(pixels, count: count, batchSize: 500)
        let small = network.infer(pixels, count: count, batchSize: 250)
        let scale = large.features.map { abs($0) }.max() ?? 1
        let worst = zip(large.features, small.features).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "features differ by \(worst) (largest feature \(scale))")
        #expect(large.predictions == small.predictions)
        if Self.sgemmRowsIndependentOfRowCount() {
            #expect(large.features.map(\.bitPattern) == small.features.map(\.bitPattern))
            #expect(large.probabilities.map(\.bitPattern) == small.probabilities.map(\.bitPattern))
        }
    }

    /// Whether the loaded BLAS kernel computes each row of C = A B the same whatever the number of rows in the call:
    /// a 500 x 800 by 800 x 128 product against the same rows in two calls of 250 (single-block products).
    static func sgemmRowsIndependentOfRowCount() -> Bool {
        var g = SeededGenerator(seed: 5)
        let (m, k, n) = (500, 800, 128)
        let a = (0..<(m * k)).map { _ in g.nextUniform() - 0.5 }, b = (0..<(k * n)).map { _ in g.nextUniform() - 0.5 }
        var whole = [Float](repeating: 0, count: m * n), halves = whole
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                BLAS.gemm(.none, .none, m: m, n: n, k: k, a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: n,
                          c: &whole, ldc: n, parallel: false)
                halves.withUnsafeMutableBufferPointer { c in
                    for half in 0..<2 {
                        BLAS.gemm(.none, .none, m: m / 2, n: n, k: k, a: a.baseAddress! + half * (m / 2) * k, lda: k,
                                  b: b.baseAddress!, ldb: n, c: c.baseAddress! + half * (m / 2) * n, ldc: n,
                                  parallel: false)
                    }
                }
            }
        }
        return whole.map(\.bitPattern) == halves.map(\.bitPattern)
    }
}
