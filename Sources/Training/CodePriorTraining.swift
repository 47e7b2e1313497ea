import Autodiff
import Datasets
import Foundation
import LinearAlgebra
import Models
import Optimizers
import Storage

/// Why the code-prior stage cannot run on a run folder; one line each.
public enum CodePriorTrainingError: Error, CustomStringConvertible, Equatable {
    case notCodeModel(path: String, kind: String)
    case unfinished(path: String, epochsDone: Int, epochs: Int)
    case otherData(path: String)

    public var description: String {
        switch self {
        case let .notCodeModel(path, kind):
            return "\(path) holds a \(kind) model; a code prior needs a vq_vae checkpoint"
        case let .unfinished(path, done, epochs):
            return "\(path) has finished \(done) of \(epochs) epochs; finish it first (vae-train --resume or vae-train sweep)"
        case .otherData(let path):
            return "\(path) was trained on other data than --data gives (MNIST checksums differ); pass the data it was trained on"
        }
    }
}

/// The second training stage of a VQ-VAE run: a learned autoregressive prior (`CodePrior`, MADE) over the code
/// grids of the training images, saved beside the checkpoint as `<run>/code-prior.safetensors`.
///
/// Loss: mean over the batch of -log p(grid) (nats per grid), Adam with its learning rate annealed from
/// `learningRate` to 0 by a half cosine over all steps (SGDR without restarts, Loshchilov & Hutter 2017: a short
/// run ends at a lower NLL than at a constant rate). Determinism: the initial parameters come
/// from `SeededGenerator(seed)`, the per-epoch shuffles from a stream split off it; the same seed and thread
/// count give the same prior. After every epoch the NLL of the test images' grids is measured (for
/// overfitting); nothing is checkpointed mid-way (the stage takes minutes; a killed one starts again).
public enum CodePriorTraining {
    /// Batch 128, Adam lr 3e-3 (cosine-annealed), 8 epochs: measured on the study's vq_vae (notebooks-md/models.md),
    /// lr 1e-3 learns too slowly (test NLL 88.6 vs 86.9 nats after 8 annealed epochs), and later epochs mostly
    /// widen the train-test gap.
    public static let defaultSettings = TrainingSettings(epochs: 8, batchSize: 128, learningRate: 3e-3, seed: 1, threads: 2)

    /// Trains a prior of `configuration` on `trainCodes` ([grids * P], image-major), measuring the NLL of
    /// `testCodes` after each epoch. `progress` receives each finished epoch.
    public static func train(configuration: CodePriorConfiguration, trainCodes: [Int], testCodes: [Int],
                             settings: TrainingSettings, label: String = "code prior",
                             progress: (CodePriorEpoch) -> Void = { _ in }) throws -> (prior: CodePrior, history: [CodePriorEpoch]) {
        try settings.validate()
        try configuration.validate()
        let p = configuration.positions
        guard trainCodes.count % p == 0, testCodes.count % p == 0, !trainCodes.isEmpty, !testCodes.isEmpty else {
            throw TrainingError.unusableData("\(trainCodes.count) training and \(testCodes.count) test code indices are not whole, non-empty sets of \(p)-position grids")
        }
        BLASRuntime.threadCount = settings.threads
        var initGenerator = SeededGenerator(seed: settings.seed)
        let prior = CodePrior(configuration: configuration, generator: &initGenerator)
        var generator = initGenerator.split()
        let optimizer = Adam(parameters: prior.parameters, learningRate: Float(settings.learningRate),
                             updatedRanges: prior.updatedRanges)
        let n = trainCodes.count / p
        let stepsPerEpoch = (n + settings.batchSize - 1) / settings.batchSize
        let totalSteps = Double(settings.epochs * stepsPerEpoch)
        var step = 0
        var history: [CodePriorEpoch] = []
        for epoch in 1...settings.epochs {
            let start = Date()
            let order = generator.permutation(n)
            var total = 0.0, offset = 0, batchIndex = 0
            var batch: [Int] = []
            while offset < n {
                batchIndex += 1
                let size = min(settings.batchSize, n - offset)
                batch.removeAll(keepingCapacity: true)
                for grid in order[offset..<(offset + size)] { batch += trainCodes[(grid * p)..<((grid + 1) * p)] }
                optimizer.zeroGradients()
                let loss = prior.negativeLogLikelihood(batch)
                let value = Double(loss.scalar)
                guard value.isFinite else {
                    throw TrainingError.diverged(run: label, epoch: epoch, batch: batchIndex, what: "loss is \(value)")
                }
                loss.scaled(by: 1 / Float(size)).backward()
                optimizer.learningRate = Float(settings.learningRate * 0.5 * (1 + cos(Double.pi * Double(step) / totalSteps)))
                optimizer.update()
                step += 1
                total += value
                offset += size
            }
            let testNLL = prior.meanNegativeLogLikelihood(testCodes)
            guard testNLL.isFinite else {
                throw TrainingError.diverged(run: label, epoch: epoch, batch: batchIndex, what: "test NLL is \(testNLL)")
            }
            let summary = CodePriorEpoch(epoch: epoch, trainNLL: total / Double(n), testNLL: testNLL,
                                         seconds: Date().timeIntervalSince(start))
            history.append(summary)
            progress(summary)
        }
        return (prior, history)
    }

    /// The prior's path in `runFolder`.
    public static func priorPath(runFolder: String) -> String { runFolder + "/" + CodePrior.fileName }

    /// Whether `runFolder` holds a prior that loads and belongs to the run's current checkpoint.
    public static func hasValidPrior(runFolder: String) -> Bool {
        guard let bytes = try? SafeTensorsArchive.readFile(RunFolder(path: runFolder).checkpoint) else { return false }
        return (try? CodePrior.load(from: priorPath(runFolder: runFolder), checkpointSHA256: SHA256.hexDigest(of: bytes))) != nil
    }

    /// `vae-train prior RUN_FOLDER`: encodes the training and test images of `dataDirectory` with the finished
    /// VQ-VAE of `runFolder/checkpoint.safetensors`, trains a prior (the default network of
    /// `CodePriorConfiguration.forVQVAE`, or with `hiddenSize` / `hiddenLayers` changed) on the training grids and writes it to
    /// `runFolder/code-prior.safetensors` (atomically), recording the checkpoint's SHA-256. `log` receives one
    /// line per step and epoch. Holds the run folder's `RunFolderLock` throughout (`waitForLock` as for `TrainingJob`).
    @discardableResult
    public static func run(runFolder: String, dataDirectory: String, settings: TrainingSettings = defaultSettings,
                           hiddenSize: Int? = nil, hiddenLayers: Int? = nil, waitForLock: Bool = true,
                           log: (String) -> Void = { _ in }) throws -> CodePriorTrainingRecord {
        try settings.validate()
        let checkpointPath = RunFolder(path: runFolder).checkpoint
        guard FileManager.default.fileExists(atPath: checkpointPath) else {
            throw FileError.cannotRead(path: checkpointPath, reason: "no such file (train the vq_vae run first)")
        }
        let lock = try RunFolderLock(folder: runFolder, wait: waitForLock, notice: log)
        defer { lock.release() }
        let bytes = try SafeTensorsArchive.readFile(checkpointPath)
        let checkpointSHA256 = SHA256.hexDigest(of: bytes)
        let checkpoint = try Checkpoint.read(from: checkpointPath)
        guard let model = checkpoint.model as? any DiscreteCodeModel else {
            throw CodePriorTrainingError.notCodeModel(path: checkpointPath, kind: checkpoint.model.configuration.kind.rawValue)
        }
        guard checkpoint.training.isFinished else {
            throw CodePriorTrainingError.unfinished(path: checkpointPath, epochsDone: checkpoint.training.completedEpochs,
                                                    epochs: checkpoint.training.epochs)
        }
        let checksum = try MNIST.checksumOfFiles(in: dataDirectory)
        guard checksum == checkpoint.training.dataChecksum else { throw CodePriorTrainingError.otherData(path: checkpointPath) }
        let train = try MNIST.load(split: .train, from: dataDirectory)
        let test = try MNIST.load(split: .test, from: dataDirectory)
        let pixels = model.configuration.imageSize
        guard train.pixelsPerImage == pixels, test.pixelsPerImage == pixels, train.count > 0, test.count > 0 else {
            throw TrainingError.unusableData("the code prior needs non-empty splits of \(pixels)-pixel images")
        }
        BLASRuntime.threadCount = settings.threads
        let encodingStart = Date()
        let trainCodes = model.codeIndices(Tensor(shape: [train.count, pixels], data: train.images), batchSize: 1000)
        let testCodes = model.codeIndices(Tensor(shape: [test.count, pixels], data: test.images), batchSize: 1000)
        let encodingSeconds = Date().timeIntervalSince(encodingStart)
        log(String(format: "encoded %d training and %d test images to code grids in %.1f s", train.count, test.count, encodingSeconds))
        var configuration = model.codePriorConfiguration
        if let hiddenSize { configuration.hiddenSize = hiddenSize }
        if let hiddenLayers { configuration.hiddenLayers = hiddenLayers }
        try configuration.validate()
        let runName = URL(fileURLWithPath: runFolder).lastPathComponent
        let (prior, history) = try Self.train(configuration: configuration, trainCodes: trainCodes, testCodes: testCodes,
                                         settings: settings, label: "the code prior of \(runName)") { epoch in
            log(String(format: "code prior epoch %d/%d: train NLL %.2f nats/grid (%.1f bits), test NLL %.2f nats/grid (%.1f bits), %.1f s",
                       epoch.epoch, settings.epochs, epoch.trainNLL, epoch.trainNLL / M_LN2, epoch.testNLL,
                       epoch.testNLL / M_LN2, epoch.seconds))
        }
        let record = CodePriorTrainingRecord(
            epochs: settings.epochs, batchSize: settings.batchSize, learningRate: settings.learningRate, seed: settings.seed,
            threads: settings.threads, dataChecksum: checksum, trainGrids: train.count, testGrids: test.count,
            encodingSeconds: encodingSeconds, history: history)
        let path = priorPath(runFolder: runFolder)
        AtomicFile.removeStaleTemporaries(for: path)
        try prior.write(to: path, checkpointSHA256: checkpointSHA256, training: record)
        return record
    }
}
