import Foundation
import Testing
import Autodiff
import Optimizers

@Suite struct AdamTests {
    /// Minimises sum (p - c)^2 for 25 steps and compares with the update formula run in Double.
    @Test func matchesReferenceTrajectory() {
        let target: [Double] = [0.5, -1.0, 2.0, 0.0]
        let start: [Float] = [1.0, 1.0, -1.0, 0.3]
        let p = Tensor(shape: [4], data: start, requiresGrad: true)
        let adam = Adam(parameters: [p], learningRate: 0.05)
        var ref = start.map(Double.init)
        var m = [Double](repeating: 0, count: 4), v = [Double](repeating: 0, count: 4)
        let (b1, b2, eps, lr) = (0.9, 0.999, 1e-8, 0.05)
        for t in 1...25 {
            adam.zeroGradients()
            Tensor.squaredError(p, Tensor(shape: [4], data: target.map(Float.init))).backward()
            adam.update()
            for i in 0..<4 {
                let g = 2 * (ref[i] - target[i])
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                let mHat = m[i] / (1 - pow(b1, Double(t))), vHat = v[i] / (1 - pow(b2, Double(t)))
                ref[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
        }
        #expect(adam.step == 25)
        for i in 0..<4 { #expect(abs(Double(p.data[i]) - ref[i]) < 1e-5, "p[\(i)] = \(p.data[i]) vs \(ref[i])") }
    }

    @Test func restoredStateContinuesIdentically() {
        func run(split: Bool) -> [Float] {
            var p = Tensor(shape: [3], data: [1, 2, 3], requiresGrad: true)
            var adam = Adam(parameters: [p])
            let target = Tensor(shape: [3], data: [0, 0, 0])
            for step in 0..<10 {
                if split && step == 5 {
                    let q = Tensor(shape: [3], data: p.data, requiresGrad: true)
                    let resumed = Adam(parameters: [q])
                    resumed.restore(step: adam.step, firstMoments: adam.firstMoments, secondMoments: adam.secondMoments)
                    p = q; adam = resumed
                }
                adam.zeroGradients()
                Tensor.squaredError(p, target).backward()
                adam.update()
            }
            return p.data
        }
        #expect(run(split: false) == run(split: true))
    }

    /// The SIMD fast path (large tensors, split across threads) against the naive scalar formula in Float:
    /// bit-identical.
    @Test func vectorizedUpdateMatchesScalarLoopExactly() {
        var g = SeededGenerator(seed: 21)
        let n = 70_001   // several SIMD blocks per thread plus a scalar tail
        let start = (0..<n).map { _ in g.nextUniform(in: -1, 1) }
        let grads = (0..<3).map { _ in (0..<n).map { _ in g.nextUniform(in: -2, 2) } }
        let p = Tensor(shape: [n], data: start, requiresGrad: true)
        let adam = Adam(parameters: [p], learningRate: 0.01)
        var ref = start, m = [Float](repeating: 0, count: n), v = [Float](repeating: 0, count: n)
        for (t, grad) in grads.enumerated() {
            p.grad = grad
            adam.update()
            let step = Double(t + 1)
            let b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8
            let stepSize: Float = 0.01 / Float(1 - pow(Double(b1), step))
            let bc2 = Float((1 - pow(Double(b2), step)).squareRoot())
            for i in 0..<n {
                m[i] = b1 * m[i] + (1 - b1) * grad[i]
                v[i] = b2 * v[i] + (1 - b2) * grad[i] * grad[i]
                ref[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2 + eps)
            }
        }
        let mismatches = zip(p.data, ref).filter { $0 != $1 }.count
        #expect(mismatches == 0, "\(mismatches) of \(n) parameters differ from the scalar loop")
    }

    /// `updatedRanges` (MADE's row prefixes): where the gradient is zero outside the ranges, the same bits as updating
    /// everything (parameters and both moments); where it is not, the entries outside stay as they were.
    @Test func updatedRangesMatchTheFullUpdateWhereGradientsAreZeroOutside() {
        var g = SeededGenerator(seed: 5)
        let rows = 300, columns = 301   // 90,300 values: the rows are spread over the threads
        let lengths = (0..<rows).map { $0 * columns / rows }
        let ranges = lengths.enumerated().compactMap { r, l in l == 0 ? nil : (r * columns)..<(r * columns + l) }
        let inside = Set(ranges.flatMap { Array($0) })
        let start = (0..<(rows * columns)).map { i in inside.contains(i) ? g.nextUniform(in: -1, 1) : 0 }
        let grads = (0..<3).map { _ in (0..<(rows * columns)).map { i in inside.contains(i) ? g.nextUniform(in: -2, 2) : 0 } }
        let full = Tensor(shape: [rows, columns], data: start, requiresGrad: true)
        let ranged = Tensor(shape: [rows, columns], data: start, requiresGrad: true)
        let fullAdam = Adam(parameters: [full], learningRate: 0.01)
        let rangedAdam = Adam(parameters: [ranged], learningRate: 0.01, updatedRanges: [ranges])
        for grad in grads {
            full.grad = grad; ranged.grad = grad
            fullAdam.update(); rangedAdam.update()
        }
        #expect(ranged.data == full.data)
        #expect(rangedAdam.firstMoments == fullAdam.firstMoments && rangedAdam.secondMoments == fullAdam.secondMoments)
        #expect(zip(start, full.data).filter { $0 != $1 }.count == inside.count)   // every entry inside moved

        // A gradient outside the ranges is ignored by the ranged optimizer.
        ranged.grad = [Float](repeating: 1, count: rows * columns)
        let before = ranged.data
        rangedAdam.update()
        #expect((0..<(rows * columns)).allSatisfy { inside.contains($0) || ranged.data[$0] == before[$0] })
    }
}
