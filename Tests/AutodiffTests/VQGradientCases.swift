import Foundation
@testable import Autodiff

// Gradient-check rows for the VQ-VAE's ops: axis permutation and the straight-through quantiser.

/// Naive permutation: output element at multi-index i is input element at j with j[axes[a]] = i[a].
func naivePermute(_ x: [Double], shape: [Int], axes: [Int]) -> [Double] {
    let outputShape = axes.map { shape[$0] }
    var y = [Double](repeating: 0, count: x.count)
    for flat in 0..<x.count {
        var rest = flat
        var outputIndex = [Int](repeating: 0, count: shape.count)
        for a in (0..<shape.count).reversed() { outputIndex[a] = rest % outputShape[a]; rest /= outputShape[a] }
        var inputIndex = [Int](repeating: 0, count: shape.count)
        for a in 0..<shape.count { inputIndex[axes[a]] = outputIndex[a] }
        var source = 0
        for a in 0..<shape.count { source = source * shape[a] + inputIndex[a] }
        y[flat] = x[source]
    }
    return y
}

private func permuteCase(_ shape: [Int], _ axes: [Int]) -> OpCase {
    OpCase(name: "permuted \(shape) by \(axes)", shapes: [shape], apply: { $0[0].permuted(axes) },
           reference: { naivePermute($0[0], shape: shape, axes: axes) })
}

let vqOpCases: [OpCase] = [
    permuteCase([2, 3, 4, 5], [0, 2, 3, 1]),   // NCHW -> NHWC
    permuteCase([2, 4, 5, 3], [0, 3, 1, 2]),   // NHWC -> NCHW
    permuteCase([3, 5], [1, 0]),               // matrix transpose
    permuteCase([2, 3, 4], [2, 0, 1]),
    permuteCase([4, 3], [0, 1]),               // identity permutation
    permuteCase([2, 3, 4, 2], [0, 2, 1, 3]),   // not a batch of transposes: the general index map
    permuteCase([2, 3, 2, 3], [3, 1, 2, 0]),
    // The straight-through quantiser's pullback is the identity: q + sg(z - q) has the value z and, through
    // the quantiser alone, the gradient of z. (Finite differences of q itself are 0 almost everywhere.)
    OpCase(name: "vectorQuantized straight-through pullback is the identity", shapes: [[6, 3], [4, 3]],
           differentiable: [true, false],
           apply: { v in
               let q = Tensor.vectorQuantized(v[0], codebook: v[1]).quantized
               return q + (v[0].detached() - q.detached())
           },
           reference: { $0[0] }),
    // The same through a non-linear consumer: d/dz sum w (q + sg(z - q))^2 = 2 w z.
    OpCase(name: "vectorQuantized straight-through then squared", shapes: [[5, 2], [3, 2]],
           differentiable: [true, false],
           apply: { v in
               let q = Tensor.vectorQuantized(v[0], codebook: v[1]).quantized
               return (q + (v[0].detached() - q.detached())).squared()
           },
           reference: { $0[0].map { $0 * $0 } }),
]
