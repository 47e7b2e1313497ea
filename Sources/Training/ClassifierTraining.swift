import Autodiff
import Datasets
import Foundation
import LinearAlgebra
import Models
import Optimizers
import Storage

/// One epoch of classifier training.
public struct ClassifierEpoch: Codable, Equatable, Sendable {
    public var epoch: Int
    /// Mean cross-entropy per training image (nats).
    public var loss: Double
    public var trainAccuracy: Double
    public var testAccuracy: Double
    public var seconds: Double
}

/// What `vae-train classifier` measured; also stored (flattened) in the weights file's metadata.
public struct ClassifierTrainingReport: Codable, Equatable, Sendable {
    public var settings: TrainingSettings
    public var history: [ClassifierEpoch]
    /// Test images classified correctly by the final network, and their number.
    public var testCorrect: Int
    public var testCount: Int
    public var testAccuracy: Double { Double(testCorrect) / Double(max(testCount, 1)) }
    /// Feature units constant (for post-ReLU: zero) on every test image, per candidate feature layer.
    public var deadUnits: [String: Int]
    /// The layer the evaluator reads features from.
    public var featureLayer: LeNet.FeatureLayer
    public var dataChecksum: String
    public var trainingSeconds: Double { history.reduce(0) { $0 + $1.seconds } }
}

/// Trains the LeNet feature network on MNIST with the project's own autodiff and Adam.
///
/// Loss: mean softmax cross-entropy over the batch (PyTorch's default reduction). Determinism: the initial
/// parameters come from `SeededGenerator(seed)`, the per-epoch shuffles from a stream split off it; with
/// the same seed and thread count the weights are bit-identical.
public enum ClassifierTraining {
    /// The settings of `vae-train classifier` (the shipped network was trained with them).
    public static let defaultSettings = TrainingSettings(epochs: 4, batchSize: 128, learningRate: 1e-3, seed: 1, threads: 2)

    /// The file name the evaluator looks for under fixtures/feature-network.
    public static let defaultOutput = "fixtures/feature-network/lenet-mnist.safetensors"

    /// Trains on `train`, measuring accuracy on `test` after each epoch. `progress` receives one line per epoch.
    public static func train(train: MNISTSplit, test: MNISTSplit, settings: TrainingSettings,
                             dataChecksum: String, progress: (String) -> Void = { _ in })
        throws -> (network: LeNet, report: ClassifierTrainingReport) {
        try settings.validate()
        let pixels = LeNet.imageSide * LeNet.imageSide
        guard train.pixelsPerImage == pixels, test.pixelsPerImage == pixels else {
            throw TrainingError.invalidSetting("the classifier needs 28x28 images, got \(train.rows)x\(train.columns)")
        }
        BLASRuntime.threadCount = settings.threads
        var initGenerator = SeededGenerator(seed: settings.seed)
        let network = LeNet(generator: &initGenerator)
        var generator = initGenerator.split()
        let optimizer = Adam(parameters: network.parameters, learningRate: Float(settings.learningRate))
        var history: [ClassifierEpoch] = []
        let n = train.count
        for epoch in 1...settings.epochs {
            let start = Date()
            let order = generator.permutation(n)
            var totalLoss = 0.0, correct = 0
            var offset = 0, batchIndex = 0
            while offset < n {
                batchIndex += 1
                let size = min(settings.batchSize, n - offset)
                var values = [Float](repeating: 0, count: size * pixels)
                var labels = [Int](repeating: 0, count: size)
                for (row, index) in order[offset..<(offset + size)].enumerated() {
                    for p in 0..<pixels { values[row * pixels + p] = train.images[index * pixels + p] }
                    labels[row] = Int(train.labels[index])
                }
                optimizer.zeroGradients()
                let logits = network(Tensor(shape: [size, pixels], data: values))
                let loss = Tensor.softmaxCrossEntropy(logits: logits, labels: labels)
                let value = Double(loss.scalar)
                guard value.isFinite else {
                    throw TrainingError.diverged(run: "classifier", epoch: epoch, batch: batchIndex, what: "loss is \(value)")
                }
                loss.scaled(by: 1 / Float(size)).backward()
                optimizer.update()
                totalLoss += value
                for b in 0..<size {
                    var best = 0
                    for c in 1..<LeNet.classes where logits.data[b * LeNet.classes + c] > logits.data[b * LeNet.classes + best] { best = c }
                    if best == labels[b] { correct += 1 }
                }
                offset += size
            }
            let seconds = Date().timeIntervalSince(start)
            let testCorrect = accuracy(network, on: test).correct
            let summary = ClassifierEpoch(epoch: epoch, loss: totalLoss / Double(n), trainAccuracy: Double(correct) / Double(n),
                                          testAccuracy: Double(testCorrect) / Double(test.count), seconds: seconds)
            history.append(summary)
            progress(String(format: "classifier epoch %d/%d loss %.4f train accuracy %.2f%% test accuracy %.2f%% %.1fs",
                            epoch, settings.epochs, summary.loss, 100 * summary.trainAccuracy,
                            100 * summary.testAccuracy, seconds))
        }
        // Final figures on the test set: accuracy and dead units of each candidate feature layer.
        var deadUnits: [String: Int] = [:]
        var testCorrect = 0
        for layer in LeNet.FeatureLayer.allCases {
            let outputs = network.infer(test.images, count: test.count, layer: layer)
            deadUnits[layer.rawValue] = LeNet.deadUnits(features: outputs.features, dimension: LeNet.featureSize).count
            testCorrect = zip(outputs.predictions, test.labels).filter { $0 == Int($1) }.count
        }
        let report = ClassifierTrainingReport(settings: settings, history: history, testCorrect: testCorrect,
                                              testCount: test.count, deadUnits: deadUnits, featureLayer: .fc1PreReLU,
                                              dataChecksum: dataChecksum)
        return (network, report)
    }

    /// Correct predictions of `network` on `split`.
    public static func accuracy(_ network: LeNet, on split: MNISTSplit) -> (correct: Int, count: Int) {
        let outputs = network.infer(split.images, count: split.count)
        return (zip(outputs.predictions, split.labels).filter { $0 == Int($1) }.count, split.count)
    }

    /// The metadata written with the weights: what the network expects and how it was made.
    public static func metadata(_ report: ClassifierTrainingReport, command: String) -> [String: String] {
        var meta: [String: String] = [
            "dataset": "MNIST (trained on the 60,000 training images, accuracy on the 10,000 test images)",
            "preprocessing": "pixels / 255 in [0, 1], 28x28, NCHW [N, 1, 28, 28] (rows of 784 accepted)",
            "feature_layer": report.featureLayer.rawValue,
            "feature_dimension": String(LeNet.featureSize),
            "test_accuracy": String(format: "%.4f", report.testAccuracy),
            "test_correct": String(report.testCorrect),
            "test_count": String(report.testCount),
            "training_command": command,
            "seed": String(report.settings.seed),
            "epochs": String(report.settings.epochs),
            "batch_size": String(report.settings.batchSize),
            "learning_rate": String(report.settings.learningRate),
            "threads": String(report.settings.threads),
            "data_checksum": report.dataChecksum,
            "training_seconds": String(format: "%.1f", report.trainingSeconds),
        ]
        for (layer, count) in report.deadUnits { meta["dead_units_" + layer] = String(count) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let history = try? encoder.encode(report.history) { meta["history"] = String(decoding: history, as: UTF8.self) }
        return meta
    }

    /// Loads MNIST from `dataDirectory`, trains, and writes the weights with their metadata to `outputPath`.
    @discardableResult
    public static func run(dataDirectory: String, outputPath: String, settings: TrainingSettings,
                           command: String, progress: (String) -> Void = { _ in }) throws -> ClassifierTrainingReport {
        try settings.validate()
        let train = try MNIST.load(split: .train, from: dataDirectory)
        let test = try MNIST.load(split: .test, from: dataDirectory)
        let checksum = try MNIST.checksumOfFiles(in: dataDirectory)
        let folder = URL(fileURLWithPath: outputPath).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw FileError.cannotCreate(path: folder, reason: FileError.reason(of: error))
        }
        let (network, report) = try Self.train(train: train, test: test, settings: settings, dataChecksum: checksum,
                                               progress: progress)
        try network.write(to: outputPath, metadata: metadata(report, command: command))
        return report
    }
}
