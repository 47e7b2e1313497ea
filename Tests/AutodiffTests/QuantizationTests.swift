import Testing
@testable import Autodiff

// The vectorised first-minimum scan of `nearestCodeIndices` against the scalar scan it replaced.

@Suite struct QuantizationTests {
    /// The scalar scan: the first strict improvement wins, NaN never does (nor anything after a NaN at 0).
    static func naiveFirstMinimum(_ scores: [Float]) -> Int {
        var best = 0, bestScore = scores[0]
        for j in 1..<scores.count where scores[j] < bestScore { best = j; bestScore = scores[j] }
        return best
    }

    /// Rows of every length from 1 to 40 and the study's 128 codes, with values drawn from a few levels (so
    /// ties are common), plus NaNs, infinities and zeros of both signs at random places.
    @Test func firstMinimumMatchesTheScalarScan() {
        var g = SeededGenerator(seed: 31)
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0]
        for count in Array(1...40) + [128] {
            for trial in 0..<60 {
                var row = (0..<count).map { _ in Float(Int(g.nextUniform(in: 0, 6))) - 2 }
                if trial % 3 != 0 {
                    for _ in 0..<(1 + trial % 4) {
                        let position = Int(g.nextUniform(in: 0, Float(count))) % count
                        row[position] = specials[Int(g.nextUniform(in: 0, Float(specials.count))) % specials.count]
                    }
                }
                if trial == 59 { row = [Float](repeating: .nan, count: count) }
                let fast = row.withUnsafeBufferPointer { Tensor.firstMinimum($0.baseAddress!, count: count) }
                #expect(fast == Self.naiveFirstMinimum(row), "row \(row)")
            }
        }
    }
}
