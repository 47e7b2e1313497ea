import Foundation
import Testing
@testable import Autodiff

/// One differentiable op: how to run it on our Float tensors, and an independent naive Double
/// implementation of its forward pass from which the test derives reference gradients by central differences.
struct OpCase: CustomTestStringConvertible, Sendable {
    /// `distinct`: a random permutation of evenly spaced values in [-2, 2), so no two entries tie
    /// (for ops with an argmax, whose finite differences break at ties).
    enum Domain: Sendable { case real, positive, unit, awayFromZero, distinct }
    let name: String
    let shapes: [[Int]]
    var domains: [Domain]? = nil
    var differentiable: [Bool]? = nil
    let apply: @Sendable ([Tensor]) -> Tensor
    let reference: @Sendable ([[Double]]) -> [Double]

    var testDescription: String { name }
}

private func map(_ x: [Double], _ f: (Double) -> Double) -> [Double] { x.map(f) }
private func zipMap(_ a: [Double], _ b: [Double], _ f: (Double, Double) -> Double) -> [Double] { zip(a, b).map(f) }

/// Naive row-major matrix product [m, k] x [k, n].
func naiveMatmul(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
    return c
}

func naiveLinear(x: [Double], weight: [Double], bias: [Double], batch: Int, inputs: Int, outputs: Int) -> [Double] {
    var y = [Double](repeating: 0, count: batch * outputs)
    for r in 0..<batch { for o in 0..<outputs {
        var total = bias[o]
        for i in 0..<inputs { total += x[r * inputs + i] * weight[o * inputs + i] }
        y[r * outputs + o] = total
    } }
    return y
}

func naiveSumRows(_ x: [Double], rows: Int, columns: Int) -> [Double] {
    var s = [Double](repeating: 0, count: columns)
    for r in 0..<rows { for c in 0..<columns { s[c] += x[r * columns + c] } }
    return s
}

func naiveBinaryCrossEntropy(logits: [Double], targets: [Double]) -> Double {
    var total = 0.0
    for (l, t) in zip(logits, targets) {
        let p = 1 / (1 + Foundation.exp(-l))
        total -= t * Foundation.log(p) + (1 - t) * Foundation.log(1 - p)
    }
    return total
}

func naiveKL(mean: [Double], logVariance: [Double]) -> Double {
    var total = 0.0
    for (m, lv) in zip(mean, logVariance) { total += 1 + lv - m * m - Foundation.exp(lv) }
    return -0.5 * total
}

let opCases: [OpCase] = [
    OpCase(name: "relu", shapes: [[3, 5]], domains: [.awayFromZero], apply: { $0[0].relu() },
           reference: { map($0[0]) { max($0, 0) } }),
    OpCase(name: "sigmoid", shapes: [[3, 5]], apply: { $0[0].sigmoid() },
           reference: { map($0[0]) { 1 / (1 + Foundation.exp(-$0)) } }),
    OpCase(name: "exp", shapes: [[4, 3]], apply: { $0[0].exp() }, reference: { map($0[0]) { Foundation.exp($0) } }),
    OpCase(name: "log", shapes: [[4, 3]], domains: [.positive], apply: { $0[0].log() },
           reference: { map($0[0]) { Foundation.log($0) } }),
    OpCase(name: "squared", shapes: [[7]], apply: { $0[0].squared() }, reference: { map($0[0]) { $0 * $0 } }),
    OpCase(name: "scaled", shapes: [[2, 3]], apply: { $0[0].scaled(by: -1.5) }, reference: { map($0[0]) { -1.5 * $0 } }),
    OpCase(name: "add", shapes: [[3, 4], [3, 4]], apply: { $0[0] + $0[1] }, reference: { zipMap($0[0], $0[1], +) }),
    OpCase(name: "subtract", shapes: [[3, 4], [3, 4]], apply: { $0[0] - $0[1] }, reference: { zipMap($0[0], $0[1], -) }),
    OpCase(name: "multiply", shapes: [[3, 4], [3, 4]], apply: { $0[0] * $0[1] }, reference: { zipMap($0[0], $0[1], *) }),
    OpCase(name: "sum", shapes: [[3, 4]], apply: { $0[0].sum() }, reference: { [$0[0].reduce(0, +)] }),
    OpCase(name: "mean", shapes: [[3, 4]], apply: { $0[0].mean() }, reference: { [$0[0].reduce(0, +) / 12] }),
    OpCase(name: "sumRows", shapes: [[3, 4]], apply: { $0[0].sumRows() },
           reference: { naiveSumRows($0[0], rows: 3, columns: 4) }),
    OpCase(name: "reshaped", shapes: [[3, 4]], apply: { $0[0].reshaped([2, 6]) }, reference: { $0[0] }),
    OpCase(name: "matmul", shapes: [[3, 4], [4, 5]], apply: { $0[0].matmul($0[1]) },
           reference: { naiveMatmul($0[0], $0[1], m: 3, k: 4, n: 5) }),
    OpCase(name: "linear", shapes: [[3, 4], [5, 4], [5]], apply: { Tensor.linear($0[0], weight: $0[1], bias: $0[2]) },
           reference: { naiveLinear(x: $0[0], weight: $0[1], bias: $0[2], batch: 3, inputs: 4, outputs: 5) }),
    OpCase(name: "binaryCrossEntropy", shapes: [[3, 4], [3, 4]], domains: [.real, .unit],
           apply: { Tensor.binaryCrossEntropy(logits: $0[0], targets: $0[1]) },
           reference: { [naiveBinaryCrossEntropy(logits: $0[0], targets: $0[1])] }),
    OpCase(name: "klDivergenceFromStandardNormal", shapes: [[3, 2], [3, 2]],
           apply: { Tensor.klDivergenceFromStandardNormal(mean: $0[0], logVariance: $0[1]) },
           reference: { [naiveKL(mean: $0[0], logVariance: $0[1])] }),
    OpCase(name: "reparameterize", shapes: [[3, 2], [3, 2], [3, 2]], differentiable: [true, true, false],
           apply: { Tensor.reparameterize(mean: $0[0], logVariance: $0[1], noise: $0[2]) },
           reference: { v in (0..<6).map { (i: Int) -> Double in v[0][i] + v[2][i] * Foundation.exp(0.5 * v[1][i]) } }),
    OpCase(name: "squaredError", shapes: [[2, 5], [2, 5]], apply: { Tensor.squaredError($0[0], $0[1]) },
           reference: { v in [zip(v[0], v[1]).reduce(0.0) { (total: Double, pair: (Double, Double)) in total + (pair.0 - pair.1) * (pair.0 - pair.1) }] }),
    conv2dCase(ConvShape(n: 2, c: 2, h: 5, w: 5, o: 3, k: 3, stride: 1, padding: 1)),
    conv2dCase(ConvShape(n: 2, c: 2, h: 7, w: 6, o: 3, k: 4, stride: 2, padding: 1)),
    convTranspose2dCase(ConvShape(n: 2, c: 3, h: 3, w: 3, o: 2, k: 4, stride: 2, padding: 1)),
    convTranspose2dCase(ConvShape(n: 2, c: 2, h: 4, w: 3, o: 3, k: 3, stride: 1, padding: 0)),
    OpCase(name: "maxPool2d size 2", shapes: [[2, 2, 5, 5]], domains: [.distinct],
           apply: { Tensor.maxPool2d($0[0], size: 2) }, reference: { naiveMaxPool2d($0[0], shape: [2, 2, 5, 5], size: 2) }),
    OpCase(name: "maxPool2d size 3", shapes: [[1, 2, 6, 7]], domains: [.distinct],
           apply: { Tensor.maxPool2d($0[0], size: 3) }, reference: { naiveMaxPool2d($0[0], shape: [1, 2, 6, 7], size: 3) }),
]

@Suite struct GradientCheckTests {
    /// Every op: forward against the Double reference, and the gradient of L = sum(op(x) * w) from our
    /// autodiff (Float) against central differences of the Double reference (h = 1e-6).
    @Test(arguments: opCases + vqOpCases + gmvaeOpCases + classifierOpCases + mmdOpCases + maskedLinearOpCases
                     + batchNormOpCases)
    func gradientMatchesFiniteDifferences(_ op: OpCase) {
        var generator = SeededGenerator(seed: 1234)
        let inputs: [Tensor] = op.shapes.enumerated().map { index, shape in
            let n = shape.reduce(1, *)
            let domain = op.domains?[index] ?? .real
            let ranks = domain == .distinct ? generator.permutation(n) : []
            let values: [Float] = (0..<n).map { j in
                let u = generator.nextUniform()
                switch domain {
                case .distinct: return 4 * Float(ranks[j]) / Float(n) - 2
                case .real: return 4 * u - 2
                case .positive: return 0.2 + 2 * u
                case .unit: return u
                case .awayFromZero: return (u < 0.5 ? -1 : 1) * (0.1 + 2 * u)
                }
            }
            return Tensor(shape: shape, data: values, requiresGrad: op.differentiable?[index] ?? true)
        }
        let output = op.apply(inputs)
        let weights = (0..<output.count).map { _ in generator.nextUniform(in: -1, 1) }
        let loss = output.count == 1 && output.rank == 0
            ? output.scaled(by: weights[0])
            : (output * Tensor(shape: output.shape, data: weights)).sum()
        loss.backward()

        let doubles = inputs.map { $0.data.map(Double.init) }
        let reference = op.reference(doubles)
        #expect(reference.count == output.count, "\(op.name): reference has \(reference.count) outputs")
        for (ours, theirs) in zip(output.data, reference) {
            #expect(abs(Double(ours) - theirs) <= 1e-5 * max(1, abs(theirs)), "\(op.name) forward: \(ours) vs \(theirs)")
        }
        func objective(_ x: [[Double]]) -> Double {
            zip(op.reference(x), weights).reduce(0) { $0 + $1.0 * Double($1.1) }
        }
        let h = 1e-6
        for (index, input) in inputs.enumerated() where input.requiresGrad {
            let analytic = input.grad ?? [Float](repeating: 0, count: input.count)
            for j in 0..<input.count {
                var plus = doubles, minus = doubles
                plus[index][j] += h
                minus[index][j] -= h
                let numeric = (objective(plus) - objective(minus)) / (2 * h)
                #expect(abs(Double(analytic[j]) - numeric) <= 1e-4 + 1e-3 * abs(numeric),
                        "\(op.name) d/dinput\(index)[\(j)]: autodiff \(analytic[j]) vs finite differences \(numeric)")
            }
        }
    }

    @Test func gradientsAccumulateOverSharedInputs() {
        let x = Tensor(shape: [3], data: [1, 2, 3], requiresGrad: true)
        let y = (x * x + x).sum()   // dy/dx = 2x + 1
        y.backward()
        #expect(x.grad == [3, 5, 7])
    }

    @Test func noGraphIsRecordedWithoutParameters() {
        let x = Tensor(shape: [2], data: [1, 2])
        let y = x.exp().sum()
        #expect(!y.requiresGrad && y.inputs.isEmpty)
    }
}
