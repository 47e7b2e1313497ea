import Foundation
@testable import Imaging

/// Deterministic pseudo-random bytes (SplitMix64), so failures reproduce exactly.
struct SeededBytes {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next() >> 56) }
    }
}

/// A `width` x `height` image with seeded random samples.
func randomImage(width: Int, height: Int, channels: Int, seed: UInt64) -> PixelImage {
    var generator = SeededBytes(seed: seed)
    return PixelImage(width: width, height: height, channels: channels,
                      pixels: generator.bytes(width * height * channels))
}

/// The checksums `Python/decode_png.py` prints: sum of samples and sum of index * sample.
func checksums(of pixels: [UInt8]) -> (sum: Int, weighted: Int) {
    var sum = 0, weighted = 0
    for (index, value) in pixels.enumerated() {
        sum += Int(value)
        weighted += index * Int(value)
    }
    return (sum, weighted)
}
