import Foundation
import Testing
@testable import Autodiff
import Layers

// The im2col + BLAS convolutions against naive nested loops (NaiveConvolution.swift for the forward
// passes, the backward passes below), on many geometries including the conv VAE's layers.

/// conv2d geometries: (N, C, H, W, O, K, stride, padding).
let conv2dShapes: [ConvShape] = [
    ConvShape(n: 2, c: 1, h: 28, w: 28, o: 32, k: 4, stride: 2, padding: 1),    // VAE encoder conv 1
    ConvShape(n: 2, c: 32, h: 14, w: 14, o: 64, k: 4, stride: 2, padding: 1),   // VAE encoder conv 2
    ConvShape(n: 1, c: 3, h: 6, w: 6, o: 4, k: 3, stride: 1, padding: 1),       // one image: no gathering
    ConvShape(n: 2, c: 32, h: 12, w: 12, o: 64, k: 5, stride: 1, padding: 0),   // feature network conv 2 (5-wide runs)
    ConvShape(n: 3, c: 2, h: 9, w: 7, o: 5, k: 3, stride: 1, padding: 0),
    ConvShape(n: 2, c: 3, h: 8, w: 11, o: 2, k: 5, stride: 3, padding: 2),      // floor, non-square
    ConvShape(n: 2, c: 4, h: 5, w: 5, o: 3, k: 1, stride: 1, padding: 0),       // 1 x 1
    ConvShape(n: 2, c: 2, h: 4, w: 4, o: 2, k: 2, stride: 1, padding: 3),       // padding wider than the kernel
    ConvShape(n: 2, c: 2, h: 5, w: 6, o: 3, k: 5, stride: 2, padding: 0),       // kernel as tall as the image
    // Per image 676 x 144 column floats: the 1 MB column budget makes blocks of 2, 2 and 1 images.
    ConvShape(n: 5, c: 16, h: 28, w: 28, o: 2, k: 3, stride: 1, padding: 0),
]

/// convTranspose2d geometries: x [N, C_in = c, H, W], weight [c, o, K, K].
let convTranspose2dShapes: [ConvShape] = [
    ConvShape(n: 2, c: 64, h: 7, w: 7, o: 32, k: 4, stride: 2, padding: 1),    // VAE decoder convT 1
    ConvShape(n: 2, c: 32, h: 14, w: 14, o: 1, k: 4, stride: 2, padding: 1),   // VAE decoder convT 2
    ConvShape(n: 1, c: 3, h: 4, w: 4, o: 2, k: 4, stride: 2, padding: 1),      // one image: no gathering
    ConvShape(n: 3, c: 2, h: 5, w: 4, o: 3, k: 3, stride: 1, padding: 0),
    ConvShape(n: 2, c: 3, h: 4, w: 6, o: 2, k: 5, stride: 3, padding: 2),
    ConvShape(n: 2, c: 4, h: 5, w: 5, o: 3, k: 1, stride: 1, padding: 0),
    ConvShape(n: 2, c: 2, h: 6, w: 5, o: 2, k: 3, stride: 1, padding: 2),      // output smaller than input
    ConvShape(n: 2, c: 3, h: 3, w: 3, o: 2, k: 2, stride: 3, padding: 0),      // stride > kernel: gaps
    // Per image 676 x 144 column floats: blocks of 2, 2 and 1 images, padded frames.
    ConvShape(n: 5, c: 2, h: 26, w: 26, o: 16, k: 3, stride: 1, padding: 1),
]

/// Uniform values in [-1, 1).
private func randomValues(_ count: Int, _ generator: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in generator.nextUniform(in: -1, 1) }
}

/// Every entry within 1e-4 relative (to max(1, |reference|)) of the Double reference.
private func expectClose(_ ours: [Float], _ reference: [Double], _ what: String,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(ours.count == reference.count, "\(what): \(ours.count) values, reference \(reference.count)",
            sourceLocation: sourceLocation)
    var worst = 0.0, worstIndex = 0
    for (i, (a, b)) in zip(ours, reference).enumerated() {
        let error = abs(Double(a) - b) / max(1, abs(b))
        if error > worst { worst = error; worstIndex = i }
    }
    #expect(worst <= 1e-4, "\(what)[\(worstIndex)]: \(ours[worstIndex]) vs \(reference[worstIndex])",
            sourceLocation: sourceLocation)
}

/// Naive conv2d pullback for upstream gradient g [n, o, Ho, Wo]: (dx, dW, db).
private func naiveConv2dBackward(x: [Double], weight: [Double], g: [Double], _ s: ConvShape)
    -> (dx: [Double], dw: [Double], db: [Double]) {
    let (ho, wo) = (s.convHeight, s.convWidth)
    var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: weight.count)
    var db = [Double](repeating: 0, count: s.o)
    for n in 0..<s.n { for o in 0..<s.o { for i in 0..<ho { for j in 0..<wo {
        let gradient = g[((n * s.o + o) * ho + i) * wo + j]
        db[o] += gradient
        for c in 0..<s.c { for ki in 0..<s.k { for kj in 0..<s.k {
            let r = i * s.stride - s.padding + ki, q = j * s.stride - s.padding + kj
            guard r >= 0 && r < s.h && q >= 0 && q < s.w else { continue }
            let xi = ((n * s.c + c) * s.h + r) * s.w + q, wi = ((o * s.c + c) * s.k + ki) * s.k + kj
            dx[xi] += gradient * weight[wi]
            dw[wi] += gradient * x[xi]
        } } }
    } } } }
    return (dx, dw, db)
}

/// Naive convTranspose2d pullback for upstream gradient g [n, o, Ho, Wo]: (dx, dW, db).
private func naiveConvTranspose2dBackward(x: [Double], weight: [Double], g: [Double], _ s: ConvShape)
    -> (dx: [Double], dw: [Double], db: [Double]) {
    let (ho, wo) = (s.transposedHeight, s.transposedWidth)
    var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: weight.count)
    var db = [Double](repeating: 0, count: s.o)
    for n in 0..<s.n { for o in 0..<s.o { for p in 0..<(ho * wo) { db[o] += g[(n * s.o + o) * ho * wo + p] } } }
    for n in 0..<s.n { for c in 0..<s.c { for i in 0..<s.h { for j in 0..<s.w {
        let xi = ((n * s.c + c) * s.h + i) * s.w + j
        for o in 0..<s.o { for ki in 0..<s.k { for kj in 0..<s.k {
            let r = i * s.stride - s.padding + ki, q = j * s.stride - s.padding + kj
            guard r >= 0 && r < ho && q >= 0 && q < wo else { continue }
            let gradient = g[((n * s.o + o) * ho + r) * wo + q], wi = ((c * s.o + o) * s.k + ki) * s.k + kj
            dx[xi] += gradient * weight[wi]
            dw[wi] += gradient * x[xi]
        } } }
    } } } }
    return (dx, dw, db)
}

@Suite struct ConvolutionTests {
    /// Forward, and dx, dW, db of L = sum(conv2d(x, W, b) * G) for a random G, against the naive loops.
    @Test(arguments: conv2dShapes)
    func conv2dMatchesNaiveLoops(_ s: ConvShape) {
        var generator = SeededGenerator(seed: 7)
        let x = Tensor(shape: s.inputShape, data: randomValues(s.inputShape.reduce(1, *), &generator), requiresGrad: true)
        let w = Tensor(shape: s.convWeightShape, data: randomValues(s.convWeightShape.reduce(1, *), &generator),
                       requiresGrad: true)
        let b = Tensor(shape: [s.o], data: randomValues(s.o, &generator), requiresGrad: true)
        let y = Tensor.conv2d(x, weight: w, bias: b, stride: s.stride, padding: s.padding)
        #expect(y.shape == s.convOutputShape)
        let g = Tensor(shape: y.shape, data: randomValues(y.count, &generator))
        (y * g).sum().backward()

        let (xd, wd, bd, gd) = (x.data.map(Double.init), w.data.map(Double.init), b.data.map(Double.init),
                                g.data.map(Double.init))
        expectClose(y.data, naiveConv2d(x: xd, weight: wd, bias: bd, s), "forward")
        let reference = naiveConv2dBackward(x: xd, weight: wd, g: gd, s)
        expectClose(x.grad ?? [], reference.dx, "dx")
        expectClose(w.grad ?? [], reference.dw, "dW")
        expectClose(b.grad ?? [], reference.db, "db")
    }

    /// Forward, and dx, dW, db of L = sum(convTranspose2d(x, W, b) * G) for a random G, against the naive loops.
    @Test(arguments: convTranspose2dShapes)
    func convTranspose2dMatchesNaiveLoops(_ s: ConvShape) {
        var generator = SeededGenerator(seed: 8)
        let x = Tensor(shape: s.inputShape, data: randomValues(s.inputShape.reduce(1, *), &generator), requiresGrad: true)
        let w = Tensor(shape: s.transposedWeightShape,
                       data: randomValues(s.transposedWeightShape.reduce(1, *), &generator), requiresGrad: true)
        let b = Tensor(shape: [s.o], data: randomValues(s.o, &generator), requiresGrad: true)
        let y = Tensor.convTranspose2d(x, weight: w, bias: b, stride: s.stride, padding: s.padding)
        #expect(y.shape == s.transposedOutputShape)
        let g = Tensor(shape: y.shape, data: randomValues(y.count, &generator))
        (y * g).sum().backward()

        let (xd, wd, bd, gd) = (x.data.map(Double.init), w.data.map(Double.init), b.data.map(Double.init),
                                g.data.map(Double.init))
        expectClose(y.data, naiveConvTranspose2d(x: xd, weight: wd, bias: bd, s), "forward")
        let reference = naiveConvTranspose2dBackward(x: xd, weight: wd, g: gd, s)
        expectClose(x.grad ?? [], reference.dx, "dx")
        expectClose(w.grad ?? [], reference.dw, "dW")
        expectClose(b.grad ?? [], reference.db, "db")
    }

    /// The last shape of each list really is split into several column-buffer blocks, the last one partial; a batch
    /// of 256 makes at least four blocks.
    @Test func largeShapesSpanSeveralGroups() {
        let conv = conv2dShapes.last!, transposed = convTranspose2dShapes.last!
        let convGeometry = ConvolutionGeometry(channels: conv.c, height: conv.h, width: conv.w, kernel: conv.k,
                                               stride: conv.stride, padding: conv.padding)
        let transposedGeometry = ConvolutionGeometry(
            channels: transposed.o, height: transposed.transposedHeight, width: transposed.transposedWidth,
            kernel: transposed.k, stride: transposed.stride, padding: transposed.padding)
        #expect(convGeometry.imagesPerGroup(conv.n) == 2)
        #expect(transposedGeometry.imagesPerGroup(transposed.n) == 2)
        #expect(convGeometry.imagesPerGroup(256) == 2 && transposedGeometry.imagesPerGroup(256) == 2)
        let first = ConvolutionGeometry(channels: 1, height: 28, width: 28, kernel: 4, stride: 2, padding: 1)
        #expect(first.imagesPerGroup(256) == 64 && first.imagesPerGroup(1) == 1)
    }

    /// convTranspose2d is the adjoint of conv2d (zero biases, same weight): <conv2d(x, W), y> = <x, convT(y, W)>.
    @Test(arguments: conv2dShapes.filter { ($0.h + 2 * $0.padding - $0.k) % $0.stride == 0
                                           && ($0.w + 2 * $0.padding - $0.k) % $0.stride == 0 })
    func convTranspose2dIsAdjointOfConv2d(_ s: ConvShape) {
        var generator = SeededGenerator(seed: 9)
        let x = Tensor(shape: s.inputShape, data: randomValues(s.inputShape.reduce(1, *), &generator))
        let w = Tensor(shape: s.convWeightShape, data: randomValues(s.convWeightShape.reduce(1, *), &generator))
        let y = Tensor(shape: s.convOutputShape, data: randomValues(s.convOutputShape.reduce(1, *), &generator))
        let forward = Tensor.conv2d(x, weight: w, bias: .zeros([s.o]), stride: s.stride, padding: s.padding)
        let adjoint = Tensor.convTranspose2d(y, weight: w, bias: .zeros([s.c]), stride: s.stride, padding: s.padding)
        #expect(adjoint.shape == s.inputShape)
        func dot(_ a: [Float], _ b: [Float]) -> (value: Double, magnitude: Double) {
            zip(a, b).reduce((0.0, 0.0)) { ($0.0 + Double($1.0) * Double($1.1), $0.1 + abs(Double($1.0) * Double($1.1))) }
        }
        let left = dot(forward.data, y.data), right = dot(x.data, adjoint.data)
        #expect(abs(left.value - right.value) <= 1e-5 * max(left.magnitude, right.magnitude),
                "<conv2d(x), y> = \(left.value), <x, convTranspose2d(y)> = \(right.value)")
    }

    /// A weight and an input used by two convolutions receive the sum of both gradients (pullbacks add).
    @Test func gradientsAccumulateOverSharedInputs() {
        var generator = SeededGenerator(seed: 10)
        let x = Tensor(shape: [2, 2, 6, 6], data: randomValues(144, &generator), requiresGrad: true)
        let w = Tensor(shape: [2, 2, 4, 4], data: randomValues(64, &generator), requiresGrad: true)
        let b = Tensor(shape: [2], data: randomValues(2, &generator), requiresGrad: true)
        func loss() -> Tensor {
            let down = Tensor.conv2d(x, weight: w, bias: b, stride: 2, padding: 1)
            return (Tensor.convTranspose2d(down, weight: w, bias: b, stride: 2, padding: 1) * x).sum()
        }
        loss().backward()
        let once = (x.grad!, w.grad!, b.grad!)
        loss().backward()
        for (twice, single) in [(x.grad!, once.0), (w.grad!, once.1), (b.grad!, once.2)] {
            for (a, c) in zip(twice, single) { #expect(abs(a - 2 * c) <= 1e-5 * max(1, abs(a))) }
        }
    }

    /// Ties go to the first maximum in row-major order; floor mode ignores the trailing row and column.
    @Test func maxPool2dRoutesGradientToFirstMaximum() {
        let x = Tensor(shape: [1, 1, 3, 5], data: [1, 3, 3, 0, 9,
                                                   2, 3, 5, 5, 9,
                                                   9, 9, 9, 9, 9], requiresGrad: true)
        let y = Tensor.maxPool2d(x, size: 2)
        #expect(y.shape == [1, 1, 1, 2] && y.data == [3, 5])
        (y * Tensor(shape: [1, 1, 1, 2], data: [10, 20])).sum().backward()
        #expect(x.grad == [0, 10, 0, 0, 0,
                           0, 0, 20, 0, 0,
                           0, 0, 0, 0, 0])
    }

    /// Inference (no gradient wanted) takes the 8-windows-at-a-time 2 x 2 path: the same values as the naive loops,
    /// on LeNet's 24 x 24 maps (8 windows and a tail of 4 per row, planes spread over the threads) and odd sizes.
    @Test(arguments: [[16, 6, 24, 24], [2, 3, 37, 35], [1, 1, 2, 2]])
    func maxPool2x2InferenceMatchesNaiveLoops(shape: [Int]) {
        var g = SeededGenerator(seed: 17)
        let values = (0..<shape.reduce(1, *)).map { _ in g.nextUniform(in: -3, 3) }
        let y = Tensor.maxPool2d(Tensor(shape: shape, data: values), size: 2)
        #expect(y.shape == [shape[0], shape[1], shape[2] / 2, shape[3] / 2])
        #expect(y.data.map(Double.init) == naiveMaxPool2d(values.map(Double.init), shape: shape, size: 2))
    }

    /// Shapes, names and PyTorch's default initialisation bounds, including ConvTranspose2d's fan-in quirk.
    @Test func layersFollowPyTorchLayoutAndInitialisation() {
        var generator = SeededGenerator(seed: 11)
        let conv = Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 4, stride: 2, padding: 1,
                          generator: &generator)
        #expect(conv.weight.shape == [64, 32, 4, 4] && conv.bias.shape == [64])
        #expect(conv.namedParameters.map(\.name) == ["weight", "bias"])
        #expect(conv(Tensor.zeros([2, 32, 14, 14])).shape == [2, 64, 7, 7])
        let convBound = 1 / Float(32 * 16).squareRoot()
        #expect(conv.weight.data.allSatisfy { abs($0) <= convBound } && conv.bias.data.allSatisfy { abs($0) <= convBound })
        #expect(conv.weight.data.map(abs).max()! > 0.99 * convBound)

        let transposed = ConvTranspose2D(inputChannels: 64, outputChannels: 32, kernelSize: 4, stride: 2, padding: 1,
                                         generator: &generator)
        #expect(transposed.weight.shape == [64, 32, 4, 4] && transposed.bias.shape == [32])
        #expect(transposed.namedParameters.map(\.name) == ["weight", "bias"])
        #expect(transposed(Tensor.zeros([2, 64, 7, 7])).shape == [2, 32, 14, 14])
        // fanIn = weight.shape[1] * K * K = 32 * 16 (output channels), not 64 * 16.
        let transposedBound = 1 / Float(32 * 16).squareRoot()
        #expect(transposed.weight.data.allSatisfy { abs($0) <= transposedBound })
        #expect(transposed.bias.data.allSatisfy { abs($0) <= transposedBound })
        #expect(transposed.weight.data.map(abs).max()! > 0.99 * transposedBound)
    }
}
