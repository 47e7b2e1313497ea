import Foundation
@testable import Autodiff

/// Naive Double softmax cross-entropy, summed over rows: sum_b log(sum_c e^l[b,c]) - l[b, y_b].
func naiveSoftmaxCrossEntropy(_ logits: [Double], labels: [Int], classes: Int) -> Double {
    var total = 0.0
    for (b, label) in labels.enumerated() {
        let row = logits[(b * classes)..<((b + 1) * classes)]
        total += Foundation.log(row.reduce(0) { $0 + Foundation.exp($1) }) - row[b * classes + label]
    }
    return total
}

/// Gradient-check rows of the classifier ops (the LeNet feature network's loss).
let classifierOpCases: [OpCase] = [
    OpCase(name: "softmaxCrossEntropy", shapes: [[4, 5]],
           apply: { Tensor.softmaxCrossEntropy(logits: $0[0], labels: [3, 0, 4, 3]) },
           reference: { [naiveSoftmaxCrossEntropy($0[0], labels: [3, 0, 4, 3], classes: 5)] }),
    // Large logits: the fused op must stay finite where exp(l) alone would overflow Float.
    OpCase(name: "softmaxCrossEntropy shifted by 100", shapes: [[3, 4]],
           apply: { Tensor.softmaxCrossEntropy(logits: $0[0] + Tensor(shape: [3, 4], data: [Float](repeating: 100, count: 12)),
                                               labels: [1, 2, 0]) },
           reference: { v in [naiveSoftmaxCrossEntropy(v[0], labels: [1, 2, 0], classes: 4)] }),
    // 37 classes: two 16-lane blocks of the vectorised exp and a scalar tail in every row.
    OpCase(name: "softmaxCrossEntropy 37 classes", shapes: [[2, 37]],
           apply: { Tensor.softmaxCrossEntropy(logits: $0[0], labels: [36, 17]) },
           reference: { [naiveSoftmaxCrossEntropy($0[0], labels: [36, 17], classes: 37)] }),
]
