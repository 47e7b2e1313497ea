import Autodiff
import Foundation

/// Adam with PyTorch's update rule and defaults (betas 0.9/0.999, eps 1e-8, no weight decay):
///
///     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
///     p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
///
/// Provenance: Kingma & Ba 2015; `torch.optim.Adam` (single-tensor path).
public final class Adam {
    public let parameters: [Tensor]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    /// First and second moment estimates, one array per parameter.
    public private(set) var firstMoments: [[Float]]
    public private(set) var secondMoments: [[Float]]
    /// Number of steps taken.
    public private(set) var step: Int = 0
    /// For each parameter, the element ranges `update()` touches (nil: all of it).
    public let updatedRanges: [[Range<Int>]?]

    /// `updatedRanges` (one entry per parameter, nil for all of it) lets a parameter whose gradient is zero by
    /// construction outside some ranges (MADE's masked weights) skip the rest: there m and v stay 0 and Adam's
    /// step is exactly 0 anyway, so the result is the same, bit for bit, with less memory traffic.
    public init(parameters: [Tensor], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, updatedRanges: [[Range<Int>]?]? = nil) {
        precondition(learningRate > 0 && learningRate.isFinite, "Adam: learning rate must be positive, got \(learningRate)")
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2), "Adam: betas must be in [0, 1), got \(beta1), \(beta2)")
        let updatedRanges = updatedRanges ?? parameters.map { _ in nil }
        precondition(updatedRanges.count == parameters.count
                     && zip(parameters, updatedRanges).allSatisfy { p, ranges in
                         ranges?.allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= p.count } ?? true },
                     "Adam: \(updatedRanges.count) range lists for \(parameters.count) parameters, or a range outside its parameter")
        self.updatedRanges = updatedRanges
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        firstMoments = parameters.map { [Float](repeating: 0, count: $0.count) }
        secondMoments = parameters.map { [Float](repeating: 0, count: $0.count) }
    }

    /// Restores moments and step (from a checkpoint), so training continues bit-identically.
    public func restore(step: Int, firstMoments: [[Float]], secondMoments: [[Float]]) {
        precondition(firstMoments.map(\.count) == parameters.map(\.count)
                     && secondMoments.map(\.count) == parameters.map(\.count), "Adam.restore: moment shapes differ")
        self.step = step
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }

    /// Applies one update from the parameters' current gradients (a missing gradient counts as zero).
    public func update() {
        step += 1
        let t = Double(step)
        let biasCorrection1 = Float(1 - pow(Double(beta1), t))
        let biasCorrection2Sqrt = Float((1 - pow(Double(beta2), t)).squareRoot())
        let stepSize = learningRate / biasCorrection1
        let b1 = beta1, b2 = beta2, eps = epsilon
        for (index, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad, parameter.count > 0 else { continue }
            let n = parameter.count
            firstMoments[index].withUnsafeMutableBufferPointer { m in
                secondMoments[index].withUnsafeMutableBufferPointer { v in
                    grad.withUnsafeBufferPointer { g in
                        parameter.data.withUnsafeMutableBufferPointer { p in
                            let m = m.baseAddress!, v = v.baseAddress!, g = g.baseAddress!, p = p.baseAddress!
                            func update(_ range: Range<Int>) {
                                Adam.update(range, m: m, v: v, g: g, p: p, b1: b1, b2: b2, stepSize: stepSize,
                                            biasCorrection2Sqrt: biasCorrection2Sqrt, eps: eps)
                            }
                            if let ranges = updatedRanges[index] {
                                Parallel.forEachRange(ranges.count, itemSize: n / max(ranges.count, 1)) { chunk in
                                    for r in chunk { update(ranges[r]) }
                                }
                            } else {
                                Parallel.forEachRange(n) { update($0) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The update of one range of one parameter, 16 lanes at a time. Each lane does exactly the scalar
    /// formula's operations in the same order, so results are identical to the scalar loop.
    private static func update(_ range: Range<Int>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                               g: UnsafePointer<Float>, p: UnsafeMutablePointer<Float>, b1: Float, b2: Float,
                               stepSize: Float, biasCorrection2Sqrt: Float, eps: Float) {
        typealias Lanes = SIMD16<Float>
        var i = range.lowerBound
        while i + Lanes.scalarCount <= range.upperBound {
            let gi = UnsafeRawPointer(g + i).loadUnaligned(as: Lanes.self)
            let mi = b1 * UnsafeRawPointer(m + i).loadUnaligned(as: Lanes.self) + (1 - b1) * gi
            let vi = b2 * UnsafeRawPointer(v + i).loadUnaligned(as: Lanes.self) + (1 - b2) * gi * gi
            let pi = UnsafeRawPointer(p + i).loadUnaligned(as: Lanes.self)
                - stepSize * mi / (vi.squareRoot() / biasCorrection2Sqrt + eps)
            UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: Lanes.self)
            UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: Lanes.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: pi, as: Lanes.self)
            i += Lanes.scalarCount
        }
        while i < range.upperBound {
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
            p[i] -= stepSize * m[i] / (v[i].squareRoot() / biasCorrection2Sqrt + eps)
            i += 1
        }
    }

    /// Zeroes every parameter's gradient, keeping the buffers.
    public func zeroGradients() { for p in parameters { p.zeroGrad() } }
}
