import Autodiff
import Datasets
import Foundation
import LinearAlgebra
import Models
import Optimizers

/// What the trainer reports while it runs.
public enum TrainingEvent {
    /// After each batch: images done in this epoch, of `total`; running mean loss per image.
    case batch(epoch: Int, imagesDone: Int, total: Int, meanLoss: Double, elapsed: Double)
    /// After each epoch, once its checkpoint is safely on disk.
    case epochFinished(EpochSummary, checkpoint: String)
}

/// Trains one model with Adam on a dataset, checkpointing after every epoch so a killed run can resume.
///
/// Determinism: the model's initial parameters come from `SeededGenerator(seed)`; the per-epoch shuffles
/// and the reparameterisation noise come from a second stream split off it. Both streams' states are saved
/// in each checkpoint, so a resumed run continues with exactly the draws the uninterrupted run would make.
/// The thread count does not change the result (BLAS products and reductions are cut into blocks fixed by
/// their shapes, see `BLASRuntime`), so a run may resume with another one.
public final class Trainer {
    public let runName: String
    public let settings: TrainingSettings
    /// Worker threads of `run` (initially `settings.threads`, which the checkpoint records): any count gives the
    /// same checkpoint.
    public var threads: Int
    /// Keep a snapshot of the checkpoint every N epochs (`TrainingSettings.checkpointEvery`); nil: none.
    public var snapshotEvery: Int?
    public let model: any GenerativeModel
    public let optimizer: Adam
    public private(set) var record: TrainingRecord
    var generator: SeededGenerator
    let data: MNISTSplit

    /// A new run from scratch.
    public init(runName: String, configuration: ModelConfiguration, settings: TrainingSettings,
                data: MNISTSplit, dataChecksum: String) throws {
        try settings.validate()
        var initGenerator = SeededGenerator(seed: settings.seed)
        let model = try ModelFactory.make(configuration, generator: &initGenerator)
        self.runName = runName
        self.settings = settings
        self.threads = settings.threads
        self.model = model
        self.optimizer = Adam(parameters: model.parameters, learningRate: Float(settings.learningRate))
        self.generator = initGenerator.split()
        self.data = data
        self.record = TrainingRecord(runName: runName, epochs: settings.epochs, batchSize: settings.batchSize,
                                     learningRate: settings.learningRate, seed: settings.seed, threads: settings.threads,
                                     dataChecksum: dataChecksum)
    }

    /// Continues a run from its last end-of-epoch checkpoint.
    public init(resuming checkpoint: Checkpoint, path: String, data: MNISTSplit, dataChecksum: String) throws {
        let training = checkpoint.training
        guard training.dataChecksum == dataChecksum else {
            throw TrainingError.checkpointMismatch(path: path, reason: "it was trained on other data (checksum \(training.dataChecksum.prefix(12))…)")
        }
        guard let resume = checkpoint.extraMetadata["resume"],
              let state = try? JSONDecoder().decode(ResumeState.self, from: Data(resume.utf8)) else {
            throw TrainingError.checkpointMismatch(path: path, reason: "it holds no resume state")
        }
        // SeededGenerator(state:) traps on an all-zero or short state; refuse it here instead.
        guard state.generator.count == 4, state.generator.contains(where: { $0 != 0 }), state.adamStep >= 0 else {
            throw TrainingError.checkpointMismatch(path: path, reason: "its resume state is invalid")
        }
        let parameters = checkpoint.model.namedParameters
        var first: [[Float]] = [], second: [[Float]] = []
        for (name, tensor) in parameters {
            guard let m = checkpoint.state["adam.m." + name], let v = checkpoint.state["adam.v." + name],
                  m.values.count == tensor.count, v.values.count == tensor.count else {
                throw TrainingError.checkpointMismatch(path: path, reason: "Adam moments for '\(name)' are missing or have the wrong size")
            }
            first.append(m.values); second.append(v.values)
        }
        self.runName = training.runName
        self.settings = TrainingSettings(epochs: training.epochs, batchSize: training.batchSize,
                                         learningRate: training.learningRate, seed: training.seed, threads: training.threads)
        try settings.validate()
        self.threads = settings.threads
        self.model = checkpoint.model
        self.optimizer = Adam(parameters: checkpoint.model.parameters, learningRate: Float(training.learningRate))
        optimizer.restore(step: state.adamStep, firstMoments: first, secondMoments: second)
        self.generator = SeededGenerator(state: state.generator)
        self.data = data
        self.record = training
    }

    struct ResumeState: Codable {
        var adamStep: Int
        var generator: [UInt64]
    }

    /// Runs the remaining epochs, writing `checkpointPath` after each. Throws on divergence, leaving the
    /// last good checkpoint in place.
    public func run(checkpointPath: String, progress: (TrainingEvent) -> Void = { _ in }) throws {
        precondition(threads >= 1, "Trainer.threads must be >= 1, got \(threads)")
        BLASRuntime.threadCount = threads
        MemoryTuning.retainFreedMemory()
        let imageSize = model.configuration.imageSize
        guard data.rows * data.columns == imageSize else {
            throw TrainingError.unusableData("the training images are \(data.rows)x\(data.columns) pixels, model \(runName) needs \(imageSize) pixels per image")
        }
        guard data.count > 0 else { throw TrainingError.unusableData("the training set holds no images") }
        let last = data.count % settings.batchSize, fewest = model.minimumTrainingBatchSize
        guard settings.batchSize >= fewest, last == 0 || last >= fewest else {
            throw TrainingError.unusableData("\(runName) needs at least \(fewest) images in every training batch (batch norm), but batch size \(settings.batchSize) over \(data.count) images leaves a batch of \(last == 0 ? settings.batchSize : last); choose another --batch-size")
        }
        let faults = try FaultInjection(environment: ProcessInfo.processInfo.environment)
        let n = data.count
        // A run killed between its checkpoint and the snapshot of that epoch gets the snapshot now (the same state).
        try writeSnapshotIfDue(checkpointPath: checkpointPath, onlyIfMissing: true)
        while !record.isFinished {
            let epoch = record.completedEpochs + 1
            let start = Date()
            let order = generator.permutation(n)
            var totals = (loss: 0.0, reconstruction: 0.0, regularizer: 0.0)
            var batchIndex = 0
            var offset = 0
            while offset < n {
                batchIndex += 1
                let size = min(settings.batchSize, n - offset)
                let batch = gatherBatch(order[offset..<(offset + size)], imageSize: imageSize)
                optimizer.zeroGradients()
                let output = model.whileTraining { model.loss(batch, generator: &generator) }
                var loss = Double(output.total.scalar)
                if faults.nanLoss(epoch: epoch, batch: batchIndex) { loss = .nan }
                guard loss.isFinite else {
                    throw TrainingError.diverged(run: runName, epoch: epoch, batch: batchIndex, what: "loss is \(loss)")
                }
                output.total.backward()
                optimizer.update()
                if faults.nanParameter(epoch: epoch, batch: batchIndex) { model.parameters[0].data[0] = .nan }
                // Checked after every update (a linear scan, small next to the batch's matrix products) so the
                // message names the batch that produced the first non-finite value.
                try checkFinite(epoch: epoch, batch: batchIndex)
                faults.pauseIfAsked(epoch: epoch, batch: batchIndex)
                totals.loss += loss
                totals.reconstruction += output.reconstruction
                totals.regularizer += output.regularizer
                offset += size
                progress(.batch(epoch: epoch, imagesDone: offset, total: n, meanLoss: totals.loss / Double(offset),
                                elapsed: Date().timeIntervalSince(start)))
            }
            let summary = EpochSummary(epoch: epoch, loss: totals.loss / Double(n),
                                       reconstruction: totals.reconstruction / Double(n),
                                       regularizer: totals.regularizer / Double(n),
                                       seconds: Date().timeIntervalSince(start))
            record.history.append(summary)
            if record.isFinished {
                let all = Tensor(shape: [n, imageSize], data: data.images)
                model.finishTraining(images: all, generator: &generator)
                try checkFinite(epoch: epoch, batch: batchIndex)
            }
            try writeCheckpoint(to: checkpointPath)
            try writeSnapshotIfDue(checkpointPath: checkpointPath, onlyIfMissing: false)
            progress(.epochFinished(summary, checkpoint: checkpointPath))
        }
    }

    /// Throws `TrainingError.diverged` if a parameter or buffer holds a NaN or an infinity.
    func checkFinite(epoch: Int, batch: Int) throws {
        for (kind, tensors) in [("parameter", model.namedParameters), ("buffer", model.namedBuffers)] {
            if let bad = tensors.first(where: { !$0.tensor.data.withUnsafeBufferPointer(VectorMath.allFinite) }) {
                throw TrainingError.diverged(run: runName, epoch: epoch, batch: batch, what: "\(kind) \(bad.name) is not finite")
            }
        }
    }

    /// Writes the model, the training record and everything needed to resume.
    public func writeCheckpoint(to path: String) throws {
        var state: [(name: String, shape: [Int], values: [Float])] = []
        for (index, (name, tensor)) in model.namedParameters.enumerated() {
            state.append(("adam.m." + name, tensor.shape, optimizer.firstMoments[index]))
            state.append(("adam.v." + name, tensor.shape, optimizer.secondMoments[index]))
        }
        let resume = ResumeState(adamStep: optimizer.step, generator: generator.state)
        // Sorted keys: JSONEncoder's default key order can differ between processes, which made the metadata
        // (and so the file) of two identical runs differ.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let resumeJSON = String(decoding: try encoder.encode(resume), as: UTF8.self)
        try Checkpoint.write(model: model, training: record, state: state, extraMetadata: ["resume": resumeJSON], to: path)
    }

    /// Copies the images at `indices` into one [batch, imageSize] tensor.
    func gatherBatch(_ indices: ArraySlice<Int>, imageSize: Int) -> Tensor {
        let values = [Float](unsafeUninitializedCapacity: indices.count * imageSize) { buffer, initialized in
            data.images.withUnsafeBufferPointer { source in
                for (row, index) in indices.enumerated() {
                    (buffer.baseAddress! + row * imageSize)
                        .update(from: source.baseAddress! + index * imageSize, count: imageSize)
                }
            }
            initialized = indices.count * imageSize
        }
        return Tensor(shape: [indices.count, imageSize], data: values)
    }
}
