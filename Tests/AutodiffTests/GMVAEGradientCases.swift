import Foundation
@testable import Autodiff

// Gradient-check rows for the ops of the Gaussian-mixture VAE, with naive Double references.
// Run by GradientCheckTests.gradientMatchesFiniteDifferences.

func naiveGatherRows(_ x: [Double], columns: Int, indices: [Int]) -> [Double] {
    indices.flatMap { i in (0..<columns).map { x[i * columns + $0] } }
}

func naiveTranspose(_ x: [Double], rows: Int, columns: Int) -> [Double] {
    var y = [Double](repeating: 0, count: rows * columns)
    for i in 0..<rows { for j in 0..<columns { y[j * rows + i] = x[i * columns + j] } }
    return y
}

func naiveSoftmaxRows(_ x: [Double], columns: Int) -> [Double] {
    stride(from: 0, to: x.count, by: columns).flatMap { start -> [Double] in
        let e = x[start..<(start + columns)].map { Foundation.exp($0) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

/// sum over rows of sum_k q log(q / (1/K)), q = softmax of the row.
func naiveCategoricalKLFromUniform(_ logits: [Double], columns: Int) -> Double {
    naiveSoftmaxRows(logits, columns: columns).reduce(0) { $0 + $1 * Foundation.log($1 * Double(columns)) }
}

/// sum over rows of sum_k q (log q - log p), q = softmax of the logits' row, p = softmax of the prior logits' row.
func naiveCategoricalKL(_ logits: [Double], _ priorLogits: [Double], columns: Int) -> Double {
    let q = naiveSoftmaxRows(logits, columns: columns), p = naiveSoftmaxRows(priorLogits, columns: columns)
    return zip(q, p).reduce(0) { $0 + $1.0 * Foundation.log($1.0 / $1.1) }
}

/// -sum_p [t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))] per row, row r against target row r mod B.
func naiveBinaryCrossEntropyPerRow(logits: [Double], targets: [Double], pixels: Int) -> [Double] {
    let rows = logits.count / pixels, batch = targets.count / pixels
    return (0..<rows).map { r in
        naiveBinaryCrossEntropy(logits: Array(logits[(r * pixels)..<((r + 1) * pixels)]),
                                targets: Array(targets[((r % batch) * pixels)..<((r % batch + 1) * pixels)]))
    }
}

/// KL(N(m, s^2) || N(mp, sp^2)) = log(sp / s) + (s^2 + (m - mp)^2) / (2 sp^2) - 1/2 per dimension, summed per row.
func naiveGaussianKLPerRow(mean: [Double], logVariance: [Double], priorMean: [Double], priorLogVariance: [Double],
                           dims: Int) -> [Double] {
    (0..<(mean.count / dims)).map { r in
        ((r * dims)..<((r + 1) * dims)).reduce(0.0) { total, i in
            let s = Foundation.exp(logVariance[i] / 2), sp = Foundation.exp(priorLogVariance[i] / 2)
            let u = mean[i] - priorMean[i]
            return total + Foundation.log(sp / s) + (s * s + u * u) / (2 * sp * sp) - 0.5
        }
    }
}

let gmvaeOpCases: [OpCase] = [
    OpCase(name: "gatheringRows repeated", shapes: [[3, 4]], apply: { $0[0].gatheringRows([2, 0, 0, 1, 2, 2]) },
           reference: { naiveGatherRows($0[0], columns: 4, indices: [2, 0, 0, 1, 2, 2]) }),
    OpCase(name: "gatheringRows repeatedRowIndices", shapes: [[3, 2]],
           apply: { $0[0].gatheringRows(repeatedRowIndices(count: 3, each: 2)) },
           reference: { naiveGatherRows($0[0], columns: 2, indices: [0, 0, 1, 1, 2, 2]) }),
    OpCase(name: "gatheringRows tiledRowIndices", shapes: [[2, 3]],
           apply: { $0[0].gatheringRows(tiledRowIndices(count: 2, times: 3)) },
           reference: { naiveGatherRows($0[0], columns: 3, indices: [0, 1, 0, 1, 0, 1]) }),
    OpCase(name: "transposed", shapes: [[3, 5]], apply: { $0[0].transposed() },
           reference: { naiveTranspose($0[0], rows: 3, columns: 5) }),
    OpCase(name: "softmaxRows", shapes: [[4, 5]], apply: { $0[0].softmaxRows() },
           reference: { naiveSoftmaxRows($0[0], columns: 5) }),
    OpCase(name: "categoricalKLFromUniform", shapes: [[4, 5]],
           apply: { Tensor.categoricalKLFromUniform(logits: $0[0]) },
           reference: { [naiveCategoricalKLFromUniform($0[0], columns: 5)] }),
    OpCase(name: "categoricalKL", shapes: [[4, 5], [4, 5]],
           apply: { Tensor.categoricalKL(logits: $0[0], priorLogits: $0[1]) },
           reference: { [naiveCategoricalKL($0[0], $0[1], columns: 5)] }),
    OpCase(name: "categoricalKL prior broadcast by gatheringRows", shapes: [[3, 4], [1, 4]],
           apply: { Tensor.categoricalKL(logits: $0[0], priorLogits: $0[1].gatheringRows([0, 0, 0])) },
           reference: { [naiveCategoricalKL($0[0], $0[1] + $0[1] + $0[1], columns: 4)] }),
    OpCase(name: "binaryCrossEntropyPerRow", shapes: [[6, 4], [2, 4]], domains: [.real, .unit],
           apply: { Tensor.binaryCrossEntropyPerRow(logits: $0[0], targets: $0[1]) },
           reference: { naiveBinaryCrossEntropyPerRow(logits: $0[0], targets: $0[1], pixels: 4) }),
    OpCase(name: "gaussianKLPerRow", shapes: [[4, 3], [4, 3], [4, 3], [4, 3]],
           apply: { Tensor.gaussianKLPerRow(mean: $0[0], logVariance: $0[1], priorMean: $0[2], priorLogVariance: $0[3]) },
           reference: { naiveGaussianKLPerRow(mean: $0[0], logVariance: $0[1], priorMean: $0[2], priorLogVariance: $0[3], dims: 3) }),
]
