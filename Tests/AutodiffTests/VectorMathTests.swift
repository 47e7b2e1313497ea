import Foundation
import Testing
@testable import Autodiff

/// `VectorMath` against Double references over the whole input range, in ulps of the correctly rounded
/// Float result, and the vectorised BCE against the naive scalar loop it replaced.
@Suite struct VectorMathTests {
    /// |value - reference| in units of the last place of Float(reference) (for a subnormal reference, of
    /// the smallest subnormal).
    static func ulps(_ value: Float, _ reference: Double) -> Double {
        let rounded = Float(reference)
        let ulp = rounded == 0 ? Double(Float.leastNonzeroMagnitude) : Double(rounded.ulp)
        return abs(Double(value) - reference) / ulp
    }

    /// Evenly spaced points of [low, high] plus every Float of a few dense neighbourhoods, evaluated 16 at a time.
    static func worstUlps(from low: Float, to high: Float, count: Int, extra: [Float] = [],
                          vector: (VectorMath.Lanes) -> VectorMath.Lanes, scalar: (Float) -> Float,
                          reference: (Double) -> Double) -> (ulps: Double, at: Float) {
        var inputs = (0..<count).map { low + (high - low) * Float($0) / Float(count - 1) }
        inputs += extra
        while inputs.count % 16 != 0 { inputs.append(high) }
        var worst = (ulps: 0.0, at: Float.nan)
        var mismatches = 0
        for start in stride(from: 0, to: inputs.count, by: 16) {
            let lanes = VectorMath.Lanes(inputs[start..<(start + 16)])
            let out = vector(lanes)
            for j in 0..<16 {
                let x = inputs[start + j]
                if scalar(x) != out[j] { mismatches += 1 }
                let e = ulps(out[j], reference(Double(x)))
                if e > worst.ulps { worst = (e, x) }
            }
        }
        #expect(mismatches == 0, "scalar and vector paths differ at \(mismatches) inputs")
        return worst
    }

    @Test func expNonPositiveIsWithinOneUlp() {
        let extra: [Float] = [0, -0.0, -Float.leastNonzeroMagnitude, -1e-30, -1e-7, -0.34657359, -0.34657362,
                              -87.33654, -87.3365, -100, -103.2, -103.97, -104, -200, -.greatestFiniteMagnitude]
        let worst = Self.worstUlps(from: -104, to: 0, count: 100_000, extra: extra,
                                   vector: VectorMath.expNonPositive, scalar: VectorMath.expNonPositive,
                                   reference: { Foundation.exp($0) })
        #expect(worst.ulps <= 1, "exp: \(worst.ulps) ulp at \(worst.at)")
        #expect(VectorMath.expNonPositive(0) == 1)
        #expect(VectorMath.expNonPositive(-.infinity) == 0)
        #expect(VectorMath.expNonPositive(.nan).isNaN)
        #expect(VectorMath.log1pUnit(.nan).isNaN)
        // A diverged model's NaN logits must give a NaN loss (the trainer reports it), not a trap.
        #expect(VectorMath.bceWithLogits(.nan, 0.5).loss.isNaN && VectorMath.bceWithLogits(.nan, 0.5).slope.isNaN)
        #expect(VectorMath.bceWithLogits(.infinity, 1).slope == 0 && VectorMath.bceWithLogits(-.infinity, 0).slope == 0)
    }

    @Test func log1pUnitIsWithinOneAndAHalfUlps() {
        var extra: [Float] = [0, Float.leastNonzeroMagnitude, 1e-38, 1e-30, 1e-10, 1e-7, 0.41421354, 0.41421357, 0.4142136, 1]
        // Every Float in a neighbourhood of the branch point and of 1.
        var x: Float = 0.4140
        while x < 0.4144 { extra.append(x); x = x.nextUp }
        x = 0.9999
        while x <= 1 { extra.append(x); x = x.nextUp }
        let worst = Self.worstUlps(from: 0, to: 1, count: 100_000, extra: extra,
                                   vector: VectorMath.log1pUnit, scalar: VectorMath.log1pUnit,
                                   reference: { Foundation.log1p($0) })
        #expect(worst.ulps <= 1.5, "log1p: \(worst.ulps) ulp at \(worst.at)")
    }

    /// softplus(x) = max(x, 0) + log1p(e^-|x|), as the BCE computes it, for every finite magnitude.
    @Test func softplusIsWithinOneAndAHalfUlps() {
        func softplus(_ x: VectorMath.Lanes) -> VectorMath.Lanes {
            x.replacing(with: 0, where: x .< 0) + VectorMath.log1pUnit(VectorMath.expNonPositive(-VectorMath.magnitude(x)))
        }
        func reference(_ x: Double) -> Double { max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x))) }
        let worst = Self.worstUlps(from: -100, to: 100, count: 100_000, extra: [-1e30, -90, -1e-20, 0, 1e-20, 20, 1e30],
                                   vector: softplus, scalar: { softplus(VectorMath.Lanes(repeating: $0))[0] },
                                   reference: reference)
        #expect(worst.ulps <= 1.5, "softplus: \(worst.ulps) ulp at \(worst.at)")
    }

    /// The sigmoid inside the BCE slope, sigmoid(v) - t with t = 0, within 2.5 ulp everywhere.
    @Test func bceSlopeSigmoidIsWithinTwoAndAHalfUlps() {
        let worst = Self.worstUlps(from: -100, to: 100, count: 100_000, extra: [-104, -1e-20, 0, 1e-20, 104],
                                   vector: { VectorMath.bceWithLogits($0, VectorMath.Lanes()).slope },
                                   scalar: { VectorMath.bceWithLogits($0, 0).slope },
                                   reference: { 1 / (1 + Foundation.exp(-$0)) })
        #expect(worst.ulps <= 2.5, "sigmoid: \(worst.ulps) ulp at \(worst.at)")
    }

    /// The fast BCE op against the naive scalar loop with glibc's expf/log1pf that it replaced.
    @Test func binaryCrossEntropyMatchesNaiveLoop() {
        var g = SeededGenerator(seed: 5)
        let n = 3 * 16 * 1024 + 7   // several Parallel.sum blocks and a scalar tail
        let logits = (0..<n).map { i in i % 97 == 0 ? g.nextUniform(in: -90, 90) : g.nextUniform(in: -15, 15) }
        let targets = (0..<n).map { i in i % 5 == 0 ? Float(i % 2) : g.nextUniform() }
        var naiveTotal = 0.0
        var naiveSlope = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let v = logits[i], target = targets[i]
            let e = Foundation.exp(-abs(v))
            naiveTotal += Double(max(v, 0) - v * target + log1p(e))
            let inverse = 1 / (1 + e)
            naiveSlope[i] = (v >= 0 ? inverse : e * inverse) - target
        }
        let l = Tensor(shape: [n], data: logits, requiresGrad: true)
        let loss = Tensor.binaryCrossEntropy(logits: l, targets: Tensor(shape: [n], data: targets))
        loss.backward()
        #expect(abs(Double(loss.scalar) - naiveTotal) <= 1e-6 * naiveTotal)
        let worstSlope = zip(l.grad!, naiveSlope).map { abs($0 - $1) }.max()!
        #expect(worstSlope <= 2.5e-7, "slope differs from the naive loop by \(worstSlope)")
    }

    /// The SIMD finiteness scan against `contains { !$0.isFinite }`, with the bad value in every position
    /// (SIMD body and tail) and of every kind.
    @Test(arguments: [Float.nan, -.nan, .infinity, -.infinity, .signalingNaN])
    func allFiniteMatchesNaiveScan(bad: Float) {
        var values = (0..<37).map { Float($0) - 18.5 }
        values += [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -0.0]
        #expect(values.withUnsafeBufferPointer(VectorMath.allFinite))
        for position in values.indices {
            var copy = values
            copy[position] = bad
            let fast = copy.withUnsafeBufferPointer(VectorMath.allFinite)
            #expect(fast == !copy.contains { !$0.isFinite }, "position \(position)")
        }
        #expect([Float]().withUnsafeBufferPointer(VectorMath.allFinite))
    }

    /// The specialised relu against the generic `mapElements` form it replaced: identical values and gradients,
    /// including zeros of both signs and an upstream gradient with NaN and infinities; with the input used by relu
    /// alone (its gradient is written new) and also elsewhere (relu's part is added to the other one), on few
    /// values (one worker) and on enough to be split over the workers.
    @Test(arguments: [1005, 70_001], [false, true])
    func reluMatchesMapElementsReference(count: Int, inputUsedTwice: Bool) {
        var g = SeededGenerator(seed: 9)
        var values = (0..<count - 5).map { _ in g.nextUniform(in: -3, 3) }
        values += [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude]
        var upstream = (0..<values.count).map { _ in g.nextUniform(in: -2, 2) }
        upstream[3] = .nan; upstream[4] = .infinity; upstream[5] = -.infinity
        let other = Tensor(shape: [values.count], data: (0..<values.count).map { _ in g.nextUniform(in: -1, 1) })
        func run(_ op: (Tensor) -> Tensor) -> ([Float], [Float]) {
            let x = Tensor(shape: [values.count], data: values, requiresGrad: true)
            let y = op(x)
            var loss = (y * Tensor(shape: [values.count], data: upstream)).sum()
            if inputUsedTwice { loss = loss + (x * other).sum() }
            loss.backward()
            return (y.data, x.grad!)
        }
        let (fast, fastGrad) = run { $0.relu() }
        let (reference, referenceGrad) = run { $0.mapElements({ max($0, 0) }, derivative: { x, _ in x > 0 ? 1 : 0 }) }
        #expect(fast.map(\.bitPattern) == reference.map(\.bitPattern))
        #expect(fastGrad.map(\.bitPattern) == referenceGrad.map(\.bitPattern))
    }

    /// a + b, a - b and a * b against plain loops (the closure-per-element form they replaced): the same bits for
    /// the values and both gradients, new or added to another use's, on one worker and on several; and a * a.
    @Test(arguments: ["+", "-", "*", "a*a"], [1005, 70_001])
    func binaryOpsMatchPlainLoops(_ op: String, count: Int) {
        var g = SeededGenerator(seed: 17)
        func values() -> [Float] { (0..<count).map { _ in g.nextUniform(in: -2, 2) } }
        let (u, v, upstream, other) = (values(), values(), values(), values())
        let a = Tensor(shape: [count], data: u, requiresGrad: true)
        let b = op == "a*a" ? a : Tensor(shape: [count], data: v, requiresGrad: true)
        let y: Tensor
        switch op {
        case "+": y = a + b
        case "-": y = a - b
        default: y = a * b
        }
        // a is also used elsewhere (its gradient adds to that use's); b only here (its gradient is new).
        ((y * Tensor(shape: [count], data: upstream)).sum() + (a * Tensor(shape: [count], data: other)).sum()).backward()
        let w = op == "a*a" ? u : v
        var expected = [Float](repeating: 0, count: count), da = [Float](repeating: 0, count: count)
        var db = [Float](repeating: 0, count: count)
        for i in 0..<count {
            switch op {
            case "+": expected[i] = u[i] + w[i]; da[i] = upstream[i] * 1; db[i] = 0 + upstream[i] * 1
            case "-": expected[i] = u[i] - w[i]; da[i] = upstream[i] * 1; db[i] = 0 + upstream[i] * -1
            default: expected[i] = u[i] * w[i]; da[i] = upstream[i] * w[i]; db[i] = 0 + upstream[i] * u[i]
            }
        }
        #expect(y.data.map(\.bitPattern) == expected.map(\.bitPattern))
        if op == "a*a" {
            // Both uses of a inside the product, then the other use: only the sum of all three is defined.
            let total = (0..<count).map { da[$0] + db[$0] + other[$0] }
            #expect(zip(a.grad!, total).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) })
        } else {
            #expect(a.grad!.map(\.bitPattern) == (0..<count).map { (da[$0] + other[$0]).bitPattern })
            #expect(b.grad!.map(\.bitPattern) == db.map(\.bitPattern))
        }
    }
}
