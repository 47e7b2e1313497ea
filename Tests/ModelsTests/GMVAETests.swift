import Autodiff
import Foundation
import Models
import Testing

/// The Gaussian-mixture VAE against a direct Double computation, its clustering figures, and its sampler.
@Suite struct GMVAETests {
    static func smallConfiguration() -> ModelConfiguration {
        var c = ModelConfiguration(kind: .gmVAE, imageSize: 12, hiddenSize: 7, latentSize: 3)
        c.mixtureComponents = 4
        return c
    }

    static func makeModel(_ configuration: ModelConfiguration, seed: UInt64 = 1) throws -> GMVAE {
        var g = SeededGenerator(seed: seed)
        return try #require(try ModelFactory.make(configuration, generator: &g) as? GMVAE)
    }

    /// y = x W^T + b in Double, W [out, in] row-major.
    static func affine(_ x: [Double], _ w: [Double], _ b: [Double]?) -> [Double] {
        let inputs = x.count, outputs = w.count / inputs
        var y = [Double](repeating: 0, count: outputs)
        for o in 0..<outputs {
            var total: Double = b?[o] ?? 0
            for i in 0..<inputs { total += x[i] * w[o * inputs + i] }
            y[o] = total
        }
        return y
    }

    /// The loss written out image by image and component by component: the first layer of q(z|x,y) applied to
    /// the concatenation [x, onehot(y)] with the unsplit weight, BCE from its definition with log, the Gaussian
    /// KL as log(sp/s) + (s^2 + (m - mp)^2) / (2 sp^2) - 1/2, and the noise of z_y taken from row y*B + b.
    /// `logWeights`: log p(y) (default Uniform(K)); `categorical` is the KL(q(y|x) || p(y)) part of `regularizer`.
    static func directLoss(_ model: GMVAE, images: [Double], batch: Int, noise: [Float], logWeights: [Double]? = nil)
        -> (reconstruction: Double, regularizer: Double, perImage: [Double], categorical: Double) {
        let c = model.configuration
        let k = c.mixtureComponents, pixels = c.imageSize, hidden = c.hiddenSize, zSize = c.latentSize
        let p = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.tensor.data.map(Double.init)) })
        // Unsplit first layer [hidden, pixels + K].
        var w1 = [Double](repeating: 0, count: hidden * (pixels + k))
        for o in 0..<hidden {
            for i in 0..<pixels { w1[o * (pixels + k) + i] = p["encoder.fc1.weight"]![o * pixels + i] }
            for y in 0..<k { w1[o * (pixels + k) + pixels + y] = p["encoder.fc1_y.weight"]![o * k + y] }
        }
        let logP = logWeights ?? [Double](repeating: -log(Double(k)), count: k)
        var reconstruction = 0.0, regularizer = 0.0, categorical = 0.0
        var perImage: [Double] = []
        for b in 0..<batch {
            let x = Array(images[(b * pixels)..<((b + 1) * pixels)])
            let logits = affine(affine(x, p["encoder.qy_fc1.weight"]!, p["encoder.qy_fc1.bias"]!).map { max($0, 0) },
                                p["encoder.qy_fc2.weight"]!, p["encoder.qy_fc2.bias"]!)
            let e = logits.map { exp($0) }
            let q = e.map { $0 / e.reduce(0, +) }
            var imageReconstruction = 0.0, imageRegularizer = 0.0
            for y in 0..<k {
                let onehot = (0..<k).map { $0 == y ? 1.0 : 0.0 }
                let h = affine(x + onehot, w1, p["encoder.fc1.bias"]!).map { max($0, 0) }
                let mean = affine(h, p["encoder.fc21.weight"]!, p["encoder.fc21.bias"]!)
                let logVariance = affine(h, p["encoder.fc22.weight"]!, p["encoder.fc22.bias"]!)
                let z = (0..<zSize).map { mean[$0] + Double(noise[(y * batch + b) * zSize + $0]) * exp(logVariance[$0] / 2) }
                let decoded = affine(affine(z, p["decoder.fc3.weight"]!, p["decoder.fc3.bias"]!).map { max($0, 0) },
                                     p["decoder.fc4.weight"]!, p["decoder.fc4.bias"]!)
                var bce = 0.0
                for i in 0..<pixels {
                    let s = 1 / (1 + exp(-decoded[i]))
                    bce -= x[i] * log(s) + (1 - x[i]) * log(1 - s)
                }
                var kl = 0.0
                for j in 0..<zSize {
                    let sq = exp(logVariance[j] / 2), sp = exp(p["prior.log_variances"]![y * zSize + j] / 2)
                    let u = mean[j] - p["prior.means"]![y * zSize + j]
                    kl += log(sp / sq) + (sq * sq + u * u) / (2 * sp * sp) - 0.5
                }
                imageReconstruction += q[y] * bce
                imageRegularizer += q[y] * (kl + log(q[y]) - logP[y])
                categorical += q[y] * (log(q[y]) - logP[y])
            }
            reconstruction += imageReconstruction
            regularizer += imageRegularizer
            perImage.append(imageReconstruction + imageRegularizer)
        }
        return (reconstruction, regularizer, perImage, categorical)
    }

    @Test(arguments: [smallConfiguration(), ModelConfiguration(kind: .gmVAE)])
    func lossMatchesDirectPerComponentComputation(configuration: ModelConfiguration) throws {
        let model = try Self.makeModel(configuration)
        // Move the prior away from its initial values so that every term of the KL matters.
        var g = SeededGenerator(seed: 7)
        model.priorMeans.data = model.priorMeans.data.map { $0 + g.nextUniform(in: -1, 1) }
        model.priorLogVariances.data = model.priorLogVariances.data.map { _ in g.nextUniform(in: -0.5, 0.5) }
        let batch = 3, c = configuration
        let x = ModelTests.tinyBatch(batch, pixels: c.imageSize)
        var noiseGenerator = SeededGenerator(seed: 11)
        let noise = noiseGenerator.normals(c.mixtureComponents * batch * c.latentSize)
        let direct = Self.directLoss(model, images: x.data.map(Double.init), batch: batch, noise: noise)

        var lossGenerator = SeededGenerator(seed: 11)
        let output = model.loss(x, generator: &lossGenerator)
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-4 * max(1, abs(b)) }
        #expect(close(output.reconstruction, direct.reconstruction), "\(output.reconstruction) vs \(direct.reconstruction)")
        #expect(close(output.regularizer, direct.regularizer), "\(output.regularizer) vs \(direct.regularizer)")
        #expect(close(Double(output.total.scalar), direct.reconstruction + direct.regularizer))

        // negativeELBO draws the same noise and is the same bound, image by image.
        var elboGenerator = SeededGenerator(seed: 11)
        let elbo = try #require(model.negativeELBO(x, generator: &elboGenerator))
        for (ours, theirs) in zip(elbo, direct.perImage) { #expect(close(ours, theirs), "\(ours) vs \(theirs)") }
    }

    @Test func clusteringFiguresOfAHandMadeAssignment() {
        // 200 images, K = 4. Cluster 0: 80 threes and 20 fives; cluster 1: 97 sevens; cluster 2: two ones
        // (exactly 1%, so not in use); cluster 3: one eight. Each image puts 0.7 on its cluster, 0.1 elsewhere.
        let k = 4
        let assignment = [Int](repeating: 0, count: 100) + [Int](repeating: 1, count: 97) + [2, 2, 3]
        let labels: [UInt8] = [UInt8](repeating: 3, count: 80) + [UInt8](repeating: 5, count: 20)
            + [UInt8](repeating: 7, count: 97) + [1, 1, 8]
        let probabilities = assignment.flatMap { a in (0..<k).map { $0 == a ? Float(0.7) : Float(0.1) } }
        let figures = GMVAE.clusteringFigures(probabilities: probabilities, components: k, labels: labels)
        #expect(figures["clusters_in_use"] == 2)
        #expect(abs(figures["cluster_accuracy"]! - 180.0 / 200) < 1e-12)
        let entropy = -(0.7 * log(0.7) + 3 * 0.1 * log(0.1))
        #expect(abs(figures["mean_entropy_qy"]! - entropy) < 1e-6)

        // A uniform q(y|x) has entropy log K; the model's own diagnostics report the same three figures.
        let uniform = GMVAE.clusteringFigures(probabilities: [Float](repeating: 0.25, count: 8), components: 4, labels: [0, 1])
        #expect(abs(uniform["mean_entropy_qy"]! - log(4)) < 1e-6)
    }

    @Test func diagnosticsOfTheModelAreInRange() throws {
        let model = try Self.makeModel(ModelConfiguration(kind: .gmVAE))
        let labels: [UInt8] = (0..<20).map { UInt8($0 % 10) }
        let figures = model.diagnostics(images: ModelTests.tinyBatch(20), labels: labels)
        #expect(Set(figures.keys) == ["clusters_in_use", "cluster_accuracy", "mean_entropy_qy"])
        #expect((1...10).contains(figures["clusters_in_use"]!))
        #expect((0.1...1).contains(figures["cluster_accuracy"]!))
        #expect((0...log(10) + 1e-6).contains(figures["mean_entropy_qy"]!))
    }

    @Test func samplingCoversAllComponents() throws {
        let model = try Self.makeModel(ModelConfiguration(kind: .gmVAE))
        let k = model.configuration.mixtureComponents, z = model.configuration.latentSize
        // Near-deterministic, distinct components: mean y everywhere, variance e^-30.
        model.priorMeans.data = (0..<(k * z)).map { Float($0 / z) - 4.5 }
        model.priorLogVariances.data = [Float](repeating: -30, count: k * z)
        var g1 = SeededGenerator(seed: 3), g2 = SeededGenerator(seed: 3)
        let (components, images) = model.sampleWithComponents(count: 500, generator: &g1)
        #expect(model.sample(count: 500, generator: &g2).data == images.data)
        let counts = (0..<k).map { y in components.filter { $0 == y }.count }
        #expect(counts.allSatisfy { (25...75).contains($0) }, "component counts \(counts)")
        #expect(images.data.allSatisfy { $0 >= 0 && $0 <= 1 })
        // Each image is the decoding of its own component's mean.
        let means = Tensor(shape: [k, z], data: model.priorMeans.data)
        let decodedMeans = model.decode(means).data
        for (i, y) in components.enumerated().prefix(50) {
            let image = images.data[(i * 784)..<((i + 1) * 784)], expected = decodedMeans[(y * 784)..<((y + 1) * 784)]
            #expect(zip(image, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "sample \(i) is not component \(y)")
        }
    }
}
