import Foundation
@testable import Autodiff

/// Naive batch normalisation in Double, x [N, C, S...] flattened: per channel over its N * S values, with the batch
/// statistics (biased variance; `running == nil`, training mode) or the given running mean and variance.
func naiveBatchNorm(x: [Double], weight: [Double], bias: [Double], shape: [Int],
                    running: (mean: [Double], variance: [Double])? = nil, epsilon: Double = 1e-5) -> [Double] {
    let batch = shape[0], channels = shape[1], spatial = shape.dropFirst(2).reduce(1, *)
    func index(_ n: Int, _ c: Int, _ s: Int) -> Int { (n * channels + c) * spatial + s }
    var y = [Double](repeating: 0, count: x.count)
    for c in 0..<channels {
        var values: [Double] = []
        for n in 0..<batch { for s in 0..<spatial { values.append(x[index(n, c, s)]) } }
        let mean = running?.mean[c] ?? values.reduce(0, +) / Double(values.count)
        let variance = running?.variance[c] ?? values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        for n in 0..<batch { for s in 0..<spatial {
            y[index(n, c, s)] = (x[index(n, c, s)] - mean) / (variance + epsilon).squareRoot() * weight[c] + bias[c]
        } }
    }
    return y
}

/// Batch norm in training mode (BatchNorm1d on [N, C], BatchNorm2d on [N, C, H, W]) and in evaluation mode; each
/// call gets fresh running estimates (training mode updates them, which is no part of the gradient).
let batchNormOpCases: [OpCase] = [
    batchNormTrainingCase([6, 4]),
    batchNormTrainingCase([3, 2, 3, 2]),
    OpCase(name: "batchNorm evaluation [5, 3]", shapes: [[5, 3], [3], [3], [3], [3]],
           domains: [.real, .real, .real, .real, .positive], differentiable: [true, true, true, false, false],
           apply: { Tensor.batchNorm($0[0], weight: $0[1], bias: $0[2], runningMean: $0[3], runningVariance: $0[4], training: false) },
           reference: { naiveBatchNorm(x: $0[0], weight: $0[1], bias: $0[2], shape: [5, 3], running: ($0[3], $0[4])) }),
]

private func batchNormTrainingCase(_ shape: [Int]) -> OpCase {
    let channels = shape[1]
    return OpCase(name: "batchNorm training \(shape)", shapes: [shape, [channels], [channels]],
                  apply: { inputs in
                      Tensor.batchNorm(inputs[0], weight: inputs[1], bias: inputs[2], runningMean: Tensor.zeros([channels]),
                                       runningVariance: Tensor(shape: [channels], data: [Float](repeating: 1, count: channels)),
                                       training: true)
                  },
                  reference: { naiveBatchNorm(x: $0[0], weight: $0[1], bias: $0[2], shape: shape) })
}
