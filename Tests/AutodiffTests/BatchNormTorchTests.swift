import Foundation
import Testing
import TestSupport
@testable import Autodiff
import Layers

/// `BatchNorm` against PyTorch's `nn.BatchNorm1d` and `nn.BatchNorm2d` on the same inputs: three training steps
/// (output; input, weight and bias gradients; running mean, running variance, num_batches_tracked after each step),
/// then an evaluation-mode step. The reference numbers are committed in `fixtures/batchnorm-torch.json`, written by
/// `scripts/torch-python scripts/batchnorm_reference.py fixtures/batchnorm-torch.json` (torch 1.13, float32): this
/// test does not run torch.
@Suite(.tags(.slow), .skippedWhenFast) struct BatchNormTorchTests {
    struct Step: Decodable {
        var input: [Float]
        var grad_output: [Float]
        var output: [Double]
        var grad_input: [Double]
        var grad_weight: [Double]
        var grad_bias: [Double]
        var running_mean: [Double]?
        var running_var: [Double]?
        var num_batches_tracked: Int64?
    }
    struct Case: Decodable {
        var name: String
        var shape: [Int]
        var weight: [Float]
        var bias: [Float]
        var momentum: Float
        var eps: Float
        var steps: [Step]
        var evaluation: Step
    }
    struct Fixture: Decodable { var cases: [Case] }

    static let fixturePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../fixtures/batchnorm-torch.json").standardized.path

    static func cases() throws -> [Case] {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: fixturePath))).cases
    }

    /// Each value within 1e-6 of PyTorch's, relative to the larger of |PyTorch's value| and the tensor's RMS (a value
    /// near zero inherits the rounding of the terms that cancelled in it).
    static func expectClose(_ ours: [Float], _ theirs: [Double], _ what: String) {
        #expect(ours.count == theirs.count, "\(what): \(ours.count) values, PyTorch \(theirs.count)")
        let rms = (theirs.reduce(0) { $0 + $1 * $1 } / Double(max(1, theirs.count))).squareRoot()
        var worst = 0.0
        for (a, b) in zip(ours, theirs) { worst = max(worst, abs(Double(a) - b) / max(abs(b), rms)) }
        #expect(worst <= 1e-6, "\(what): largest relative difference from PyTorch \(worst)")
    }

    @Test(arguments: try cases().map(\.name))
    func matchesPyTorch(_ name: String) throws {
        let c = try #require(try Self.cases().first { $0.name == name })
        let layer = BatchNorm(features: c.shape[1], dimensions: c.shape.count == 4 ? .two : .one,
                              momentum: c.momentum, epsilon: c.eps)
        layer.weight.data = c.weight
        layer.bias.data = c.bias
        for (index, step) in (c.steps.map { ($0, true) } + [(c.evaluation, false)]).enumerated() {
            let (reference, training) = step
            let what = "\(name) \(training ? "training step \(index + 1)" : "evaluation")"
            layer.weight.zeroGrad(); layer.bias.zeroGrad()
            let x = Tensor(shape: c.shape, data: reference.input, requiresGrad: true)
            let y = layer(x, training: training)
            (y * Tensor(shape: c.shape, data: reference.grad_output)).sum().backward()
            Self.expectClose(y.data, reference.output, "\(what) output")
            Self.expectClose(x.grad ?? [], reference.grad_input, "\(what) input gradient")
            Self.expectClose(layer.weight.grad ?? [], reference.grad_weight, "\(what) weight gradient")
            Self.expectClose(layer.bias.grad ?? [], reference.grad_bias, "\(what) bias gradient")
            if let mean = reference.running_mean, let variance = reference.running_var {
                Self.expectClose(layer.runningMean.data, mean, "\(what) running mean")
                Self.expectClose(layer.runningVariance.data, variance, "\(what) running variance")
            }
            if let tracked = reference.num_batches_tracked { #expect(layer.batchesTracked.value == tracked, "\(what)") }
        }
        #expect(layer.batchesTracked.value == Int64(c.steps.count), "evaluation must not count a batch")
    }
}
