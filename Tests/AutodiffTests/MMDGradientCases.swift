import Foundation
@testable import Autodiff

/// Naive unbiased IMQ MMD^2 between the rows of x [n, d] and y [m, d], straight from the definition:
/// sum over C of mean_{i != j} k(x_i, x_j) + mean_{i != j} k(y_i, y_j) - 2 mean_{i, j} k(x_i, y_j).
func naiveIMQMMD(_ x: [Double], _ y: [Double], n: Int, m: Int, d: Int, constants: [Double]) -> Double {
    func k(_ a: [Double], _ i: Int, _ b: [Double], _ j: Int) -> Double {
        var r = 0.0
        for t in 0..<d { r += (a[i * d + t] - b[j * d + t]) * (a[i * d + t] - b[j * d + t]) }
        return constants.reduce(0) { $0 + $1 / ($1 + r) }
    }
    var xx = 0.0, yy = 0.0, xy = 0.0
    for i in 0..<n { for j in 0..<n where i != j { xx += k(x, i, x, j) } }
    for i in 0..<m { for j in 0..<m where i != j { yy += k(y, i, y, j) } }
    for i in 0..<n { for j in 0..<m { xy += k(x, i, y, j) } }
    return xx / Double(n * (n - 1)) + yy / Double(m * (m - 1)) - 2 * xy / Double(n * m)
}

/// Gradient-check rows for the MMD op (appended to `opCases` by `GradientCheckTests`).
let mmdOpCases: [OpCase] = [
    OpCase(name: "inverseMultiquadraticMMD equal sizes", shapes: [[4, 3], [4, 3]],
           apply: { Tensor.inverseMultiquadraticMMD($0[0], $0[1], constants: [0.6, 6]) },
           reference: { [naiveIMQMMD($0[0], $0[1], n: 4, m: 4, d: 3, constants: [0.6, 6])] }),
    OpCase(name: "inverseMultiquadraticMMD unequal sizes, WAE constants", shapes: [[3, 2], [5, 2]],
           apply: { Tensor.inverseMultiquadraticMMD($0[0], $0[1], constants: [0.4, 0.8, 2, 4, 8, 20, 40]) },
           reference: { [naiveIMQMMD($0[0], $0[1], n: 3, m: 5, d: 2, constants: [0.4, 0.8, 2, 4, 8, 20, 40])] }),
    OpCase(name: "inverseMultiquadraticMMD prior fixed", shapes: [[5, 2], [4, 2]], differentiable: [true, false],
           apply: { Tensor.inverseMultiquadraticMMD($0[0], $0[1], constants: [1]) },
           reference: { [naiveIMQMMD($0[0], $0[1], n: 5, m: 4, d: 2, constants: [1])] }),
]
