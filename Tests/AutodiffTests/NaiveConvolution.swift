import Foundation
import Testing
import Autodiff

// Naive nested-loop references for the convolution ops, in Double, written from the definitions
// (independently of the im2col + BLAS implementation). All tensors are flat NCHW arrays.

/// The sizes of one convolution: x [n, c, h, w], conv2d weight [o, c, k, k] / convTranspose2d weight [c, o, k, k].
struct ConvShape: CustomTestStringConvertible, Sendable {
    let n: Int, c: Int, h: Int, w: Int, o: Int, k: Int, stride: Int, padding: Int

    /// conv2d output size: (h + 2p - k)/s + 1.
    var convHeight: Int { (h + 2 * padding - k) / stride + 1 }
    var convWidth: Int { (w + 2 * padding - k) / stride + 1 }
    /// convTranspose2d output size: (h - 1)s - 2p + k.
    var transposedHeight: Int { (h - 1) * stride - 2 * padding + k }
    var transposedWidth: Int { (w - 1) * stride - 2 * padding + k }

    var inputShape: [Int] { [n, c, h, w] }
    var convWeightShape: [Int] { [o, c, k, k] }
    var transposedWeightShape: [Int] { [c, o, k, k] }
    var convOutputShape: [Int] { [n, o, convHeight, convWidth] }
    var transposedOutputShape: [Int] { [n, o, transposedHeight, transposedWidth] }

    var testDescription: String { "x[\(n),\(c),\(h),\(w)] -> \(o) ch, k\(k) s\(stride) p\(padding)" }
}

/// y[n, o, i, j] = b[o] + sum_{c, ki, kj} w[o, c, ki, kj] x[n, c, i*s - p + ki, j*s - p + kj] (gather form).
func naiveConv2d(x: [Double], weight: [Double], bias: [Double], _ s: ConvShape) -> [Double] {
    let (ho, wo) = (s.convHeight, s.convWidth)
    var y = [Double](repeating: 0, count: s.n * s.o * ho * wo)
    for n in 0..<s.n { for o in 0..<s.o { for i in 0..<ho { for j in 0..<wo {
        var total = bias[o]
        for c in 0..<s.c { for ki in 0..<s.k { for kj in 0..<s.k {
            let r = i * s.stride - s.padding + ki, q = j * s.stride - s.padding + kj
            guard r >= 0 && r < s.h && q >= 0 && q < s.w else { continue }
            total += weight[((o * s.c + c) * s.k + ki) * s.k + kj] * x[((n * s.c + c) * s.h + r) * s.w + q]
        } } }
        y[((n * s.o + o) * ho + i) * wo + j] = total
    } } } }
    return y
}

/// PyTorch's ConvTranspose2d in scatter form: every input pixel x[n, c, i, j] adds w[c, o, ki, kj] x[n, c, i, j]
/// to y[n, o, i*s - p + ki, j*s - p + kj] (when inside y); then + b[o].
func naiveConvTranspose2d(x: [Double], weight: [Double], bias: [Double], _ s: ConvShape) -> [Double] {
    let (ho, wo) = (s.transposedHeight, s.transposedWidth)
    var y = [Double](repeating: 0, count: s.n * s.o * ho * wo)
    for n in 0..<s.n { for o in 0..<s.o { for p in 0..<(ho * wo) { y[(n * s.o + o) * ho * wo + p] = bias[o] } } }
    for n in 0..<s.n { for c in 0..<s.c { for i in 0..<s.h { for j in 0..<s.w {
        let value = x[((n * s.c + c) * s.h + i) * s.w + j]
        for o in 0..<s.o { for ki in 0..<s.k { for kj in 0..<s.k {
            let r = i * s.stride - s.padding + ki, q = j * s.stride - s.padding + kj
            guard r >= 0 && r < ho && q >= 0 && q < wo else { continue }
            y[((n * s.o + o) * ho + r) * wo + q] += weight[((c * s.o + o) * s.k + ki) * s.k + kj] * value
        } } }
    } } } }
    return y
}

/// y[n, c, i, j] = max over the size x size window at (i*size, j*size); floor mode.
func naiveMaxPool2d(_ x: [Double], shape: [Int], size: Int) -> [Double] {
    let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
    let (ho, wo) = (h / size, w / size)
    var y: [Double] = []
    for p in 0..<planes { for i in 0..<ho { for j in 0..<wo {
        var best = -Double.infinity
        for a in 0..<size { for b in 0..<size { best = max(best, x[(p * h + i * size + a) * w + j * size + b]) } }
        y.append(best)
    } } }
    return y
}

// Gradient-check rows (`opCases` in GradientCheckTests.swift) for the convolutions of a given shape.
func conv2dCase(_ s: ConvShape) -> OpCase {
    OpCase(name: "conv2d \(s.testDescription)", shapes: [s.inputShape, s.convWeightShape, [s.o]],
           apply: { Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: s.stride, padding: s.padding) },
           reference: { naiveConv2d(x: $0[0], weight: $0[1], bias: $0[2], s) })
}

func convTranspose2dCase(_ s: ConvShape) -> OpCase {
    OpCase(name: "convTranspose2d \(s.testDescription)", shapes: [s.inputShape, s.transposedWeightShape, [s.o]],
           apply: { Tensor.convTranspose2d($0[0], weight: $0[1], bias: $0[2], stride: s.stride, padding: s.padding) },
           reference: { naiveConvTranspose2d(x: $0[0], weight: $0[1], bias: $0[2], s) })
}
