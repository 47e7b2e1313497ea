import Autodiff
import Foundation
@testable import Models
import Testing
import TestSupport

/// The convolutional VAE (`vae_conv`) and the WAE-MMD (`wae`): shapes, the MMD estimator, and loss gradients.
@Suite struct ConvVAEAndWAETests {
    static func randomValues(_ count: Int, _ generator: inout SeededGenerator, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in scale * generator.nextUniform(in: -1, 1) }
    }

    /// Unbiased IMQ MMD^2 by a direct double loop over all pairs, in Double.
    static func directMMD(_ x: [Double], _ y: [Double], n: Int, m: Int, d: Int, constants: [Double]) -> Double {
        var xx = 0.0, yy = 0.0, xy = 0.0
        for i in 0..<n { for j in 0..<n where j != i {
            let r = (0..<d).reduce(0.0) { $0 + (x[i * d + $1] - x[j * d + $1]) * (x[i * d + $1] - x[j * d + $1]) }
            for c in constants { xx += c / (c + r) }
        } }
        for i in 0..<m { for j in 0..<m where j != i {
            let r = (0..<d).reduce(0.0) { $0 + (y[i * d + $1] - y[j * d + $1]) * (y[i * d + $1] - y[j * d + $1]) }
            for c in constants { yy += c / (c + r) }
        } }
        for i in 0..<n { for j in 0..<m {
            let r = (0..<d).reduce(0.0) { $0 + (x[i * d + $1] - y[j * d + $1]) * (x[i * d + $1] - y[j * d + $1]) }
            for c in constants { xy += c / (c + r) }
        } }
        return xx / Double(n * (n - 1)) + yy / Double(m * (m - 1)) - 2 * xy / Double(n * m)
    }

    // MARK: MMD

    @Test func mmdMatchesDirectDoubleLoop() {
        var g = SeededGenerator(seed: 11)
        let (n, m, d) = (5, 4, 3)
        let x = Tensor(shape: [n, d], data: Self.randomValues(n * d, &g, scale: 2))
        let y = Tensor(shape: [m, d], data: Self.randomValues(m * d, &g, scale: 2))
        let constants: [Float] = WAE.kernelScales.map { $0 * 2 * Float(d) }
        let ours = Double(Tensor.inverseMultiquadraticMMD(x, y, constants: constants).scalar)
        let direct = Self.directMMD(x.data.map(Double.init), y.data.map(Double.init), n: n, m: m, d: d,
                                    constants: constants.map(Double.init))
        #expect(abs(ours - direct) <= 1e-6 * max(1, abs(direct)), "\(ours) vs \(direct)")
        // Symmetric in its two sets.
        let swapped = Double(Tensor.inverseMultiquadraticMMD(y, x, constants: constants).scalar)
        #expect(abs(ours - swapped) <= 1e-6 * max(1, abs(ours)))
    }

    /// Deterministic facts of the unbiased estimator: MMD(x, x) = 2 S / (n^2 (n - 1)) - 2 K / n, with S the
    /// off-diagonal kernel sum and K the number of constants: never positive, 0 only when the points coincide.
    /// Far-apart sets get (about) the sum of both within-set means.
    @Test func mmdOfIdenticalAndOfSeparatedSets() {
        var g = SeededGenerator(seed: 12)
        let (n, d) = (6, 2)
        let constants: [Float] = [0.5, 2]
        let values = Self.randomValues(n * d, &g)
        let x = Tensor(shape: [n, d], data: values)
        let same = Double(Tensor.inverseMultiquadraticMMD(x, x, constants: constants).scalar)
        let xs = values.map(Double.init)
        var s = 0.0
        for i in 0..<n { for j in 0..<n where j != i {
            let r = (0..<d).reduce(0.0) { $0 + (xs[i * d + $1] - xs[j * d + $1]) * (xs[i * d + $1] - xs[j * d + $1]) }
            s += constants.reduce(0.0) { $0 + Double($1) / (Double($1) + r) }
        } }
        let expected = 2 * s / Double(n * n * (n - 1)) - 2 * Double(constants.count) / Double(n)
        #expect(abs(same - expected) <= 1e-6 && same < 0)

        let point = Tensor(shape: [n, d], data: [Float](repeating: 0.3, count: n * d))
        #expect(abs(Tensor.inverseMultiquadraticMMD(point, point, constants: constants).scalar) <= 1e-6)

        let far = Tensor(shape: [n, d], data: values.map { $0 + 1000 })
        let separated = Double(Tensor.inverseMultiquadraticMMD(x, far, constants: constants).scalar)
        let withinMean = s / Double(n * (n - 1))
        #expect(abs(separated - 2 * withinMean) <= 1e-4, "\(separated) vs \(2 * withinMean)")
    }

    // MARK: Conv VAE

    @Test func convVAEShapesAndParameterNames() throws {
        var g = SeededGenerator(seed: 13)
        let model = try #require(try ModelFactory.make(try ShippedStudy.configuration("vae_conv"), generator: &g) as? ConvVAE)
        let batch = 3
        let x = Tensor(shape: [batch, 784], data: (0..<(batch * 784)).map { _ in g.nextUniform() })
        let image = x.reshaped([batch, 1, 28, 28])
        let h1 = model.conv1(image)
        #expect(h1.shape == [batch, 32, 14, 14])
        #expect(model.conv2(h1.relu()).shape == [batch, 64, 7, 7])
        #expect(model.features(x).shape == [batch, 3136])
        let (mean, logVariance) = model.posterior(x)
        #expect(mean.shape == [batch, 20] && logVariance.shape == [batch, 20])
        let h = model.fc(mean).relu().reshaped([batch, 64, 7, 7])
        let up = model.deconv1(h)
        #expect(up.shape == [batch, 32, 14, 14])
        #expect(model.deconv2(up.relu()).shape == [batch, 1, 28, 28])
        #expect(model.decoderLogits(mean).shape == [batch, 784])
        #expect(model.reconstruct(x).shape == [batch, 784])

        let shapes = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.tensor.shape) })
        #expect(shapes == [
            "encoder.conv1.weight": [32, 1, 4, 4], "encoder.conv1.bias": [32],
            "encoder.conv2.weight": [64, 32, 4, 4], "encoder.conv2.bias": [64],
            "encoder.fc_mean.weight": [20, 3136], "encoder.fc_mean.bias": [20],
            "encoder.fc_logvar.weight": [20, 3136], "encoder.fc_logvar.bias": [20],
            "decoder.fc.weight": [3136, 20], "decoder.fc.bias": [3136],
            "decoder.deconv1.weight": [64, 32, 4, 4], "decoder.deconv1.bias": [32],
            "decoder.deconv2.weight": [32, 1, 4, 4], "decoder.deconv2.bias": [1],
        ])
        #expect(model.namedParameters.count == 14)
    }

    /// The loss gradient of a few entries of every parameter tensor (the first, and the one with the largest
    /// gradient) against central differences of the Float loss with the same noise (the same generator seed).
    /// Tolerance 0.05 + 1%: Float rounding of the loss and ReLU kinks within h, not a bug, account for the rest.
    @Test(arguments: ["vae_conv", "wae"])
    func lossGradientMatchesFiniteDifferences(run: String) throws {
        var g = SeededGenerator(seed: 14)
        let model = try ModelFactory.make(try ShippedStudy.configuration(run), generator: &g)
        let batch = 2
        let x = Tensor(shape: [batch, 784], data: (0..<(batch * 784)).map { _ in g.nextUniform() < 0.3 ? g.nextUniform() : 0 })
        func loss() -> Double {
            var noise = SeededGenerator(seed: 15)
            return Double(model.loss(x, generator: &noise).total.scalar)
        }
        var noise = SeededGenerator(seed: 15)
        model.loss(x, generator: &noise).total.backward()
        // The loss (~1000) is a Float, whose spacing there (1.2e-4) over 2h is the differences' rounding error
        // (~0.02 at h = 3e-3); a larger h crosses more ReLU kinks (1e-2 is off by 3% for a deconv1 bias).
        let h: Float = 3e-3
        for (name, tensor) in model.namedParameters {
            let grad = try #require(tensor.grad, "\(name) got no gradient")
            let largest = grad.indices.max { abs(grad[$0]) < abs(grad[$1]) }!
            for j in Set([0, largest]) {
                let saved = tensor.data[j]
                tensor.data[j] = saved + h
                let plus = loss()
                tensor.data[j] = saved - h
                let minus = loss()
                tensor.data[j] = saved
                let numeric = (plus - minus) / Double(2 * h)
                let analytic = Double(grad[j])
                #expect(abs(analytic - numeric) <= 0.05 + 0.01 * abs(numeric),
                        "\(run) \(name)[\(j)]: autodiff \(analytic) vs finite differences \(numeric)")
            }
        }
    }

    // MARK: WAE

    /// total = summed squared error + lambda * n * MMD(codes, prior draws), the prior drawn first from the generator.
    @Test func waeLossIsSquaredErrorPlusScaledMMD() throws {
        var g = SeededGenerator(seed: 16)
        let model = try #require(try ModelFactory.make(try ShippedStudy.configuration("wae"), generator: &g) as? WAE)
        #expect(model.kernelConstants == [4, 8, 20, 40, 80, 200, 400])
        #expect(model.namedParameters.map(\.name) == ["encoder.fc1.weight", "encoder.fc1.bias", "encoder.fc2.weight",
                                                       "encoder.fc2.bias", "decoder.fc3.weight", "decoder.fc3.bias",
                                                       "decoder.fc4.weight", "decoder.fc4.bias"])
        let n = 4, z = model.configuration.latentSize
        let x = Tensor(shape: [n, 784], data: (0..<(n * 784)).map { _ in g.nextUniform() })
        var noise = SeededGenerator(seed: 17)
        let output = model.loss(x, generator: &noise)

        var replay = SeededGenerator(seed: 17)
        let prior = replay.normals(n * z).map(Double.init)
        let codes = model.encode(x).data.map(Double.init)
        let mmd = Self.directMMD(codes, prior, n: n, m: n, d: z, constants: model.kernelConstants.map(Double.init))
        #expect(abs(output.regularizer - Double(n) * mmd) <= 1e-4 * max(1, abs(Double(n) * mmd)),
                "\(output.regularizer) vs n * MMD \(Double(n) * mmd)")
        let reconstructed = model.reconstruct(x).data
        let squaredError = zip(reconstructed, x.data).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        #expect(abs(output.reconstruction - squaredError) <= 1e-4 * squaredError)
        let expected = output.reconstruction + model.configuration.mmdWeight * output.regularizer
        #expect(abs(Double(output.total.scalar) - expected) <= 1e-4 * expected)
        #expect(model.negativeELBO(x, generator: &noise) == nil)
        #expect(model.encode(x).data == model.encode(x).data, "the encoder is deterministic")
    }

    @Test func waeBatchOfOneHasNoPenalty() throws {
        var g = SeededGenerator(seed: 18)
        let model = try ModelFactory.make(try ShippedStudy.configuration("wae"), generator: &g)
        let x = Tensor(shape: [1, 784], data: (0..<784).map { _ in g.nextUniform() })
        let output = model.loss(x, generator: &g)
        #expect(output.regularizer == 0 && output.total.scalar == Float(output.reconstruction))
    }
}

