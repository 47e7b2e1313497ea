/// Vectorised exp and log1p on 16 Float lanes, for the element-wise hot spots of the training step
/// (the softplus and sigmoid of the binary cross-entropy with logits).
///
/// Each lane computes the same polynomial as the scalar Cephes routines, so results do not depend on
/// where a loop's SIMD body ends and its scalar tail begins: the tail calls the same functions on a
/// one-element-filled vector. Accuracy, measured by `VectorMathTests` against Double references over
/// the whole input range (worst case seen, and the bound the tests enforce): `expNonPositive` 0.94 ulp
/// (bound 1), `log1pUnit` 1.39 ulp (1.5), softplus `max(x, 0) + log1pUnit(expNonPositive(-|x|))` 1.43 ulp
/// (1.5) for every finite x, the BCE's sigmoid 2.27 ulp (2.5); ulps of the correctly rounded Float.
///
/// Provenance: Cephes `expf.c` and `logf.c` (S. L. Moshier), the polynomials and the two-part ln 2.
public enum VectorMath {
    public typealias Lanes = SIMD16<Float>

    /// ln 2 split so that n * ln2High is exact for |n| < 2^9 (Cephes C1, C2).
    static let ln2High: Float = 0.693359375
    static let ln2Low: Float = -2.12194440e-4

    /// e^x for x <= 0 (x > 0 is a caller bug not checked per lane: the result would still be e^x for
    /// x < 88 but is not covered by the tests). Underflows to 0 below about -103.97.
    ///
    /// x = n ln 2 + r with |r| <= ln 2 / 2, e^r by Cephes' degree-6 polynomial, times 2^n built in two
    /// factors so that results down to the subnormal range are rounded once, not flushed.
    @inline(__always)
    public static func expNonPositive(_ x: Lanes) -> Lanes {
        let clamped = x.replacing(with: -104, where: x .< -104)
        // n = round(x / ln 2) by the 1.5 * 2^23 trick: the sum's last mantissa bits are n, read back without a
        // Float-to-Int conversion (which would trap on NaN; a NaN input gives a NaN result instead).
        let shifted = clamped * 1.44269504088896341 + 12_582_912
        let n = shifted - 12_582_912
        var r = clamped - n * ln2High
        r = r - n * ln2Low
        let r2 = r * r
        var p: Lanes = Lanes(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let er = p * r2 + r + 1
        // 2^n = 2^half * 2^(n - half), each factor a normal Float (n >= -150, so both >= -75 > -127).
        let ni = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let half = ni &>> 1
        let rest = ni &- half
        let scale1 = unsafeBitCast((half &+ 127) &<< 23, to: Lanes.self)
        let scale2 = unsafeBitCast((rest &+ 127) &<< 23, to: Lanes.self)
        return er * scale1 * scale2
    }

    /// log(1 + e) for e in [0, 1] (the softplus term log1p(exp(-|x|))).
    ///
    /// For e <= sqrt(2) - 1, log1p(e) directly by Cephes' log polynomial in f = e; otherwise
    /// log(1 + e) = ln 2 + log1p(f) with f = (e - 1) / 2 in (-0.293, 0]. Both f ranges are Cephes'.
    @inline(__always)
    public static func log1pUnit(_ e: Lanes) -> Lanes {
        let upper = e .> 0.41421356237
        let f = e.replacing(with: (e - 1) * 0.5, where: upper)
        let k = Lanes(repeating: 0).replacing(with: 1, where: upper)
        let z = f * f
        var p: Lanes = Lanes(repeating: 7.0376836292e-2)
        p = p * f - 1.1514610310e-1
        p = p * f + 1.1676998740e-1
        p = p * f - 1.2420140846e-1
        p = p * f + 1.4249322787e-1
        p = p * f - 1.6668057665e-1
        p = p * f + 2.0000714765e-1
        p = p * f - 2.4999993993e-1
        p = p * f + 3.3333331174e-1
        var y = f * z * p
        y = y + k * ln2Low
        y = y - 0.5 * z
        return (f + y) + k * ln2High
    }

    /// The binary cross-entropy terms of 16 logits `v` against targets `t`:
    /// loss = max(v, 0) - v t + log(1 + e^-|v|), slope = sigmoid(v) - t (d loss / d v).
    @inline(__always)
    public static func bceWithLogits(_ v: Lanes, _ t: Lanes) -> (loss: Lanes, slope: Lanes) {
        let e = expNonPositive(-magnitude(v))
        let loss = v.replacing(with: 0, where: v .< 0) - v * t + log1pUnit(e)
        let inverse = 1 / (1 + e)
        let sigmoid = inverse.replacing(with: e * inverse, where: v .< 0)
        return (loss, sigmoid - t)
    }

    /// Sum over `count` elements of the BCE-with-logits loss terms (accumulated per lane in Double, lanes added
    /// at the end: the result depends only on `count` and the values), writing each element's slope
    /// sigmoid(l) - t to `slopes`.
    public static func binaryCrossEntropy(logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int,
                                          slopes: UnsafeMutablePointer<Float>) -> Double {
        var low = SIMD8<Double>(), high = SIMD8<Double>()
        var i = 0
        while i + Lanes.scalarCount <= count {
            let v = UnsafeRawPointer(logits + i).loadUnaligned(as: Lanes.self)
            let t = UnsafeRawPointer(targets + i).loadUnaligned(as: Lanes.self)
            let (loss, slope) = bceWithLogits(v, t)
            low += SIMD8<Double>(loss.lowHalf)
            high += SIMD8<Double>(loss.highHalf)
            UnsafeMutableRawPointer(slopes + i).storeBytes(of: slope, as: Lanes.self)
            i += Lanes.scalarCount
        }
        var total = (low + high).sum()
        while i < count {
            let (loss, slope) = bceWithLogits(logits[i], targets[i])
            total += Double(loss)
            slopes[i] = slope
            i += 1
        }
        return total
    }

    /// Whether every value is finite (no NaN, no infinity): an OR over all values of "exponent bits all ones",
    /// a branch-free integer loop the compiler vectorises, so the trainer's scan of all parameters after every
    /// step costs a fraction of `contains { !$0.isFinite }`.
    public static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        let exponent: UInt32 = 0x7f80_0000
        var saturated: UInt32 = 0
        values.withMemoryRebound(to: UInt32.self) { bits in
            for b in bits { saturated |= (b & exponent) == exponent ? 1 : 0 }
        }
        return saturated == 0
    }

    /// |x| lane by lane (clears the sign bits).
    @inline(__always)
    public static func magnitude(_ x: Lanes) -> Lanes {
        unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7fff_ffff, to: Lanes.self)
    }

    /// Scalar entry points: lane 0 of the vector routines (the same operations, so loops' tails match
    /// their SIMD bodies exactly).
    @inline(__always)
    public static func expNonPositive(_ x: Float) -> Float { expNonPositive(Lanes(repeating: x))[0] }
    @inline(__always)
    public static func log1pUnit(_ e: Float) -> Float { log1pUnit(Lanes(repeating: e))[0] }
    @inline(__always)
    public static func bceWithLogits(_ v: Float, _ t: Float) -> (loss: Float, slope: Float) {
        let r = bceWithLogits(Lanes(repeating: v), Lanes(repeating: t))
        return (r.loss[0], r.slope[0])
    }
}
