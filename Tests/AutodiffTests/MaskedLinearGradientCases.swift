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

/// The mask of `lengths` as a [lengths.count, inputs] tensor of 0/1.
private func maskTensor(lengths: [Int], inputs: Int) -> Tensor {
    Tensor(shape: [lengths.count, inputs], data: lengths.flatMap { length in (0..<inputs).map { $0 < length ? 1 : 0 } })
}

/// Weights zero outside the mask (as the code prior keeps them): the products read the weight itself, no masked copy.
private func preMaskedCase(lengths: [Int], blockRows: Int, batch: Int = 3, inputs: Int = 5) -> OpCase {
    let mask = maskTensor(lengths: lengths, inputs: inputs)
    return OpCase(name: "prefixMaskedLinear of a weight already zero outside lengths \(lengths), blocks of \(blockRows)",
                  shapes: [[batch, inputs], [lengths.count, inputs], [lengths.count]],
                  apply: { Tensor.prefixMaskedLinear($0[0], weight: $0[1] * mask, bias: $0[2], lengths: lengths, blockRows: blockRows) },
                  reference: { v in
                      let masked = zip(v[1], mask.data).map { $0 * Double($1) }
                      return naivePrefixMaskedLinear(x: v[0], weight: masked, bias: v[2], lengths: lengths, batch: batch, inputs: inputs)
                  })
}

/// The weight also used densely: its gradient outside the mask comes from the dense use only (the masked op adds its
/// block products straight into dW and must leave those entries as it found them).
private func sharedWeightCase(lengths: [Int], blockRows: Int, batch: Int = 3, inputs: Int = 5) -> OpCase {
    OpCase(name: "prefixMaskedLinear sharing its weight with a dense linear, lengths \(lengths), blocks of \(blockRows)",
           shapes: [[batch, inputs], [lengths.count, inputs], [lengths.count]],
           apply: { Tensor.prefixMaskedLinear($0[0], weight: $0[1], bias: $0[2], lengths: lengths, blockRows: blockRows)
                    + Tensor.linear($0[0], weight: $0[1], bias: $0[2]) },
           reference: { v in
               let masked = naivePrefixMaskedLinear(x: v[0], weight: v[1], bias: v[2], lengths: lengths, batch: batch, inputs: inputs)
               let dense = naiveLinear(x: v[0], weight: v[1], bias: v[2], batch: batch, inputs: inputs, outputs: lengths.count)
               return zip(masked, dense).map(+)
           })
}

let maskedLinearOpCases: [OpCase] = [
    preMaskedCase(lengths: [0, 1, 2, 2, 4, 4, 5], blockRows: 4),
    sharedWeightCase(lengths: [0, 1, 2, 2, 4, 4, 5], blockRows: 4),
    sharedWeightCase(lengths: [1, 3, 5], blockRows: 2),
    // Blocks [0, 4) and [4, 7): the first block multiplies 2 columns, row 0 none, row 6 all.
    prefixMaskedCase(lengths: [0, 1, 2, 2, 4, 4, 5], blockRows: 4),
    prefixMaskedCase(lengths: [0, 1, 2, 2, 4, 4, 5], blockRows: 1),
    prefixMaskedCase(lengths: [0, 0, 3, 5], blockRows: 100),
    prefixMaskedCase(lengths: [0, 0], blockRows: 1),   // everything masked: y = b
]
