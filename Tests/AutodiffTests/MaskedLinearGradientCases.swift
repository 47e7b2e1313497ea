@testable import Autodiff

// Gradient-check rows for the code prior's op: the row-prefix-masked affine map (MADE with sorted degrees).

/// Naive y = x (W . M)^T + b with M[r, c] = [c < lengths[r]].
func naivePrefixMaskedLinear(x: [Double], weight: [Double], bias: [Double], lengths: [Int], batch: Int, inputs: Int) -> [Double] {
    var masked = weight
    for (r, length) in lengths.enumerated() { for c in length..<inputs { masked[r * inputs + c] = 0 } }
    return naiveLinear(x: x, weight: masked, bias: bias, batch: batch, inputs: inputs, outputs: lengths.count)
}

private func prefixMaskedCase(lengths: [Int], blockRows: Int, batch: Int = 3, inputs: Int = 5) -> OpCase {
    OpCase(name: "prefixMaskedLinear lengths \(lengths) blocks of \(blockRows)",
           shapes: [[batch, inputs], [lengths.count, inputs], [lengths.count]],
           apply: { Tensor.prefixMaskedLinear($0[0], weight: $0[1], bias: $0[2], lengths: lengths, blockRows: blockRows) },
           reference: { naivePrefixMaskedLinear(x: $0[0], weight: $0[1], bias: $0[2], lengths: lengths, batch: batch, inputs: inputs) })
}

let maskedLinearOpCases: [OpCase] = [
    // Blocks [0, 4) and [4, 7): the first block multiplies 2 columns, row 0 none, row 6 all.
    prefixMaskedCase(lengths: [0, 1, 2, 2, 4, 4, 5], blockRows: 4),
    prefixMaskedCase(lengths: [0, 1, 2, 2, 4, 4, 5], blockRows: 1),
    prefixMaskedCase(lengths: [0, 0, 3, 5], blockRows: 100),
    prefixMaskedCase(lengths: [0, 0], blockRows: 1),   // everything masked: y = b
]
