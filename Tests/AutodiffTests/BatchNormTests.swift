import Foundation
import LinearAlgebra
import Testing
@testable import Autodiff
import Layers

@Suite(.serialized) struct BatchNormTests {
    /// The op at the sizes of the study's models (large enough to run over the workers): output, gradients and
    /// running estimates are bit-identical with 1 and 2 threads, and the output matches the naive Double forward.
    @Test(arguments: [[256, 400], [64, 32, 14, 14]])
    func independentOfThreadCount(shape: [Int]) {
        let channels = shape[1], n = shape.reduce(1, *)
        var g = SeededGenerator(seed: 11)
        let x = (0..<n).map { _ in 3 * g.nextUniform() - 1 }
        let upstream = (0..<n).map { _ in g.nextUniform(in: -1, 1) }
        let w = (0..<channels).map { _ in g.nextUniform(in: 0.5, 1.5) }, b = (0..<channels).map { _ in g.nextUniform(in: -1, 1) }
        func run(_ threads: Int) -> [[Float]] {
            BLASRuntime.threadCount = threads
            let layer = BatchNorm(features: channels, dimensions: shape.count == 4 ? .two : .one)
            layer.weight.data = w; layer.bias.data = b
            var results: [[Float]] = []
            for training in [true, true, false] {
                layer.weight.zeroGrad(); layer.bias.zeroGrad()
                let input = Tensor(shape: shape, data: x, requiresGrad: true)
                let y = layer(input, training: training)
                (y * Tensor(shape: shape, data: upstream)).sum().backward()
                results += [y.data, input.grad!, layer.weight.grad!, layer.bias.grad!,
                            layer.runningMean.data, layer.runningVariance.data]
            }
            return results
        }
        let one = run(1), two = run(2)
        BLASRuntime.threadCount = 2
        #expect(one == two)
        let reference = naiveBatchNorm(x: x.map(Double.init), weight: w.map(Double.init), bias: b.map(Double.init), shape: shape)
        let worst = zip(one[0], reference).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst <= 1e-5, "training output against the naive forward: \(worst)")
    }

    @Test func evaluationLeavesRunningEstimatesAlone() {
        let layer = BatchNorm(features: 3, dimensions: .one)
        let x = Tensor(shape: [4, 3], data: (0..<12).map { Float($0) })
        _ = layer(x, training: false)
        #expect(layer.runningMean.data == [0, 0, 0] && layer.runningVariance.data == [1, 1, 1] && layer.batchesTracked.value == 0)
        _ = layer(x, training: true)
        // Channel c holds c, c + 3, c + 6, c + 9: mean c + 4.5, unbiased variance 15.
        #expect(layer.runningMean.data.enumerated().allSatisfy { abs($1 - 0.1 * (Float($0) + 4.5)) < 1e-6 })
        #expect(layer.runningVariance.data.allSatisfy { abs($0 - (0.9 + 0.1 * 15)) < 1e-5 })
        #expect(layer.batchesTracked.value == 1)
    }
}
