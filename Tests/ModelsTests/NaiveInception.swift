import Foundation
import Testing

// Naive nested-loop references for the channels-last inference ops of Inception-v3 (Models/FeatureMap*.swift),
// in Double, written from PyTorch's definitions in NCHW (independently of the column-matrix + BLAS code).

/// The sizes of one rectangular convolution: x [n, c, h, w], weight [o, c, kh, kw], stride, padding (ph, pw).
struct RectangularConv: CustomTestStringConvertible, Sendable {
    let n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int, stride: Int, ph: Int, pw: Int
    var outputHeight: Int { (h + 2 * ph - kh) / stride + 1 }
    var outputWidth: Int { (w + 2 * pw - kw) / stride + 1 }
    var testDescription: String { "x[\(n),\(c),\(h),\(w)] -> \(o) ch, \(kh)x\(kw) s\(stride) p(\(ph),\(pw))" }
}

/// y[n, o, i, j] = sum_{c, ki, kj} w[o, c, ki, kj] x[n, c, i*s - ph + ki, j*s - pw + kj] (x = 0 outside), NCHW.
func naiveRectangularConv(x: [Double], weight: [Double], _ s: RectangularConv) -> [Double] {
    let (ho, wo) = (s.outputHeight, s.outputWidth)
    var y = [Double](repeating: 0, count: s.n * s.o * ho * wo)
    for n in 0..<s.n { for o in 0..<s.o { for i in 0..<ho { for j in 0..<wo {
        var total = 0.0
        for c in 0..<s.c { for ki in 0..<s.kh { for kj in 0..<s.kw {
            let r = i * s.stride - s.ph + ki, q = j * s.stride - s.pw + kj
            guard r >= 0 && r < s.h && q >= 0 && q < s.w else { continue }
            total += weight[((o * s.c + c) * s.kh + ki) * s.kw + kj] * x[((n * s.c + c) * s.h + r) * s.w + q]
        } } }
        y[((n * s.o + o) * ho + i) * wo + j] = total
    } } } }
    return y
}

/// PyTorch's 3 x 3 pools on NCHW planes [planes, h, w]: max (padding ignored) or the mean over the window's
/// positions inside the image (count_include_pad=False).
func naivePool3x3(_ x: [Double], planes: Int, h: Int, w: Int, stride: Int, padding: Int, maximum: Bool) -> [Double] {
    let ho = (h + 2 * padding - 3) / stride + 1, wo = (w + 2 * padding - 3) / stride + 1
    var y: [Double] = []
    for p in 0..<planes { for i in 0..<ho { for j in 0..<wo {
        var values: [Double] = []
        for a in 0..<3 { for b in 0..<3 {
            let r = i * stride - padding + a, q = j * stride - padding + b
            if r >= 0 && r < h && q >= 0 && q < w { values.append(x[(p * h + r) * w + q]) }
        } }
        y.append(maximum ? values.max()! : values.reduce(0, +) / Double(values.count))
    } } }
    return y
}

/// F.interpolate(x, size: out, mode: "bilinear", align_corners: false) of one [n, n] plane, in Double: source
/// coordinate (i + 0.5) n / out - 0.5 clamped at 0, neighbours floor and floor + 1 (clamped to n - 1).
func naiveBilinear(_ x: [Double], side n: Int, to out: Int) -> [Double] {
    func taps(_ i: Int) -> (Int, Int, Double) {
        let source = max(0, (Double(i) + 0.5) * Double(n) / Double(out) - 0.5)
        let i0 = Int(source.rounded(.down))
        return (i0, min(i0 + 1, n - 1), source - Double(i0))
    }
    var y = [Double](repeating: 0, count: out * out)
    for i in 0..<out { for j in 0..<out {
        let (r0, r1, a) = taps(i), (c0, c1, b) = taps(j)
        y[i * out + j] = (1 - a) * ((1 - b) * x[r0 * n + c0] + b * x[r0 * n + c1]) + a * ((1 - b) * x[r1 * n + c0] + b * x[r1 * n + c1])
    } }
    return y
}
