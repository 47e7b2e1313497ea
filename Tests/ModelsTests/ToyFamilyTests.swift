import Autodiff
import Datasets
import Evaluation
import Foundation
import Layers
import Models
import Storage
import Testing
import TestSupport
import Training

/// A model family defined outside the library, as a new family is added: one type conforming to `ModelFamily`
/// (with its fused op defined through Tensor's public op initialiser) and one `ModelFactory.register` line.
///
/// Encoder z = Linear(x) [B, imageSize] -> [B, z]; decoder logits = Linear(z) -> [B, imageSize].
/// Loss: BCE(logits, x) summed + 1/2 ||z||^2 summed (a deterministic autoencoder pulled towards N(0, I)).
final class ToyAutoencoder: ModelFamily, ContinuousLatentModel {
    static let kind: ModelKind = "toy_autoencoder"
    let configuration: ModelConfiguration
    var isTraining = false
    let encoder: Linear
    let decoder: Linear

    init(configuration: ModelConfiguration, generator: inout SeededGenerator) {
        self.configuration = configuration
        encoder = Linear(inputSize: configuration.imageSize, outputSize: configuration.latentSize, generator: &generator)
        decoder = Linear(inputSize: configuration.latentSize, outputSize: configuration.imageSize, generator: &generator)
    }

    var namedParameters: [(name: String, tensor: Tensor)] { nested("encoder", encoder) + nested("decoder", decoder) }

    func loss(_ images: Tensor, generator: inout SeededGenerator) -> LossBreakdown {
        let z = encoder(images)
        let reconstruction = Tensor.binaryCrossEntropy(logits: decoder(z), targets: images)
        let penalty = Self.halfSquaredNorm(z)
        return LossBreakdown(total: reconstruction + penalty, reconstruction: Double(reconstruction.scalar),
                             regularizer: Double(penalty.scalar))
    }

    func encode(_ images: Tensor) -> Tensor { encoder(images) }
    func posteriorMean(_ images: Tensor) -> Tensor { encoder(images) }
    func decode(_ codes: Tensor) -> Tensor { decoder(codes).sigmoid() }

    func sample(count: Int, generator: inout SeededGenerator) -> Tensor {
        decode(Tensor(shape: [count, configuration.latentSize], data: generator.normals(count * configuration.latentSize)))
    }

    func negativeELBO(_ images: Tensor, generator: inout SeededGenerator) -> [Double]? { nil }

    /// The family's fused op: s = 1/2 sum_i x_i^2, a scalar; ds/dx = x.
    static func halfSquaredNorm(_ x: Tensor) -> Tensor {
        let value = x.data.reduce(Float(0)) { $0 + $1 * $1 } / 2
        return Tensor(shape: [], data: [value], inputs: [x]) { out in
            let g = out.grad![0]
            x.addToGrad { x.data[$0] * g }
        }
    }
}

@Suite struct ToyFamilyTests {
    /// The one line a new family needs besides its own file.
    static func register() { ModelFactory.register(ToyAutoencoder.self) }

    @Test func fusedOpDefinedOutsideAutodiffHasTheGradientOfFiniteDifferences() throws {
        var g = SeededGenerator(seed: 4)
        let x = Tensor(shape: [3, 2], data: (0..<6).map { _ in g.nextUniform() * 2 - 1 }, requiresGrad: true)
        ToyAutoencoder.halfSquaredNorm(x).scaled(by: 3).backward()
        let analytic = try #require(x.grad)
        for i in 0..<6 {
            func f(_ delta: Double) -> Double {
                3 * 0.5 * x.data.indices.reduce(0.0) { sum, j in
                    let v = Double(x.data[j]) + (j == i ? delta : 0)
                    return sum + v * v
                }
            }
            let h = 1e-4, numeric = (f(h) - f(-h)) / (2 * h)
            #expect(abs(Double(analytic[i]) - numeric) < 1e-4, "entry \(i): \(analytic[i]) vs \(numeric)")
        }
    }

    /// Registered, the toy family is built from a study run, trained, written, read back from the checkpoint alone
    /// and evaluated like the study's own families; the gmm sampler applies (a continuous latent), the learned
    /// one does not.
    @Test func registeredFamilyTrainsAndEvaluatesThroughTheFactory() throws {
        Self.register()
        let folder = try TemporaryFolder(prefix: "toy-family")
        defer { folder.remove() }
        let scratch = folder.path
        let data = scratch + "/mnist"
        try TinyMNIST.write(into: data, train: 60, test: 20)
        let configuration = ModelConfiguration(kind: ToyAutoencoder.kind, latentSize: 3)
        #expect(ModelFactory.kinds.contains(ToyAutoencoder.kind))
        let job = TrainingJob(runName: "toy", configuration: configuration,
                              settings: TrainingSettings(epochs: 3, batchSize: 20, learningRate: 1e-2, seed: 3, threads: 1),
                              dataDirectory: data, outputRoot: scratch + "/out", resume: false)
        var losses: [Double] = []
        try job.run(progress: { event in if case .epochFinished(let epoch, _) = event { losses.append(epoch.loss) } })
        #expect(losses.count == 3 && losses.last! < losses.first!, "\(losses)")

        let checkpoint = try Checkpoint.read(from: job.checkpointPath)
        #expect(checkpoint.model is ToyAutoencoder && checkpoint.model.configuration == configuration)
        #expect(SamplerKind.applicable(to: type(of: checkpoint.model)) == [.prior, .gmm])

        let test = try MNIST.load(split: .test, from: data)
        let results = try RunEvaluation.evaluate(RunFolder(path: job.runFolder), testSet: test)
        #expect(results.modelKind == "toy_autoencoder")
        // Lower than the untrained model's (the same initial draw as the training's, from its seed).
        var g = SeededGenerator(seed: 3)
        let untrained = try ModelFactory.make(configuration, generator: &g)
        let before = zip(untrained.reconstruct(Tensor(shape: [test.count, 784], data: test.images)).data, test.images)
            .reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / Double(test.images.count)
        #expect(results.reconstruction.meanSquaredError < before, "MSE \(results.reconstruction.meanSquaredError) vs \(before)")
        #expect(FileManager.default.fileExists(atPath: job.runFolder + "/samples.png"))
    }
}
