import Foundation

/// xoshiro256** seeded through SplitMix64: the project's only source of randomness, always passed
/// explicitly so that the same seed gives the same run.
///
/// Provenance: Blackman & Vigna, "Scrambled linear pseudorandom number generators" (2021).
public struct SeededGenerator: RandomNumberGenerator, Equatable, Sendable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// Restores a generator from `state` (as saved in a checkpoint).
    public init(state: [UInt64]) {
        precondition(state.count == 4 && state.contains { $0 != 0 }, "SeededGenerator: invalid state \(state)")
        s0 = state[0]; s1 = state[1]; s2 = state[2]; s3 = state[3]
    }

    /// The four state words; `SeededGenerator(state: g.state)` continues exactly where `g` is.
    public var state: [UInt64] { [s0, s1, s2, s3] }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A derived, independent generator (for a sub-task that must not disturb this stream's sequence).
    public mutating func split() -> SeededGenerator { SeededGenerator(seed: next()) }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform in [low, high).
    public mutating func nextUniform(in low: Float, _ high: Float) -> Float { low + (high - low) * nextUniform() }

    /// Uniform in (0, 1] with 53 random bits (safe to take the log of).
    private mutating func nextOpenDouble() -> Double { (Double(next() >> 11) + 1) * 0x1p-53 }

    /// Fills `buffer` with independent N(0, 1) draws (Box-Muller in Double, both outputs used).
    public mutating func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>) {
        var i = 0
        while i < buffer.count {
            let r = (-2 * Foundation.log(nextOpenDouble())).squareRoot()
            let theta = 2 * Double.pi * nextOpenDouble()
            buffer[i] = Float(r * cos(theta))
            if i + 1 < buffer.count { buffer[i + 1] = Float(r * sin(theta)) }
            i += 2
        }
    }

    /// `count` independent N(0, 1) draws.
    public mutating func normals(_ count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            fillNormal(buffer)
            initialized = count
        }
    }

    /// A uniformly random permutation of 0..<count (Fisher-Yates, unbiased bounded draws), independent
    /// of the standard library's shuffle algorithm so that runs stay reproducible across Swift versions.
    public mutating func permutation(_ count: Int) -> [Int] {
        var p = Array(0..<count)
        if count < 2 { return p }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(boundedDraw(UInt64(i + 1)))
            p.swapAt(i, j)
        }
        return p
    }

    /// Uniform in 0..<bound by rejection (Lemire's method).
    public mutating func boundedDraw(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "boundedDraw: bound must be positive")
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return m.high
    }
}
