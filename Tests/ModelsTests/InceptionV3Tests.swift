import Autodiff
import Evaluation
import Foundation
@testable import Models
import Storage
import Testing
import TestSupport

/// The channels-last inference ops against naive loops, and the whole network against pytorch-fid itself.
@Suite(.tags(.slow), .skippedWhenFast) struct InceptionV3Tests {
    // MARK: - Fast ops vs naive references

    static let convolutions: [RectangularConv] = [
        RectangularConv(n: 2, c: 5, h: 7, w: 6, o: 9, kh: 1, kw: 1, stride: 1, ph: 0, pw: 0),
        RectangularConv(n: 2, c: 3, h: 9, w: 8, o: 4, kh: 3, kw: 3, stride: 2, ph: 0, pw: 0),
        RectangularConv(n: 1, c: 4, h: 6, w: 7, o: 5, kh: 3, kw: 3, stride: 1, ph: 1, pw: 1),
        RectangularConv(n: 2, c: 3, h: 5, w: 9, o: 4, kh: 1, kw: 7, stride: 1, ph: 0, pw: 3),
        RectangularConv(n: 2, c: 3, h: 9, w: 5, o: 4, kh: 7, kw: 1, stride: 1, ph: 3, pw: 0),
        RectangularConv(n: 1, c: 6, h: 4, w: 4, o: 3, kh: 1, kw: 3, stride: 1, ph: 0, pw: 1),
        RectangularConv(n: 1, c: 6, h: 4, w: 4, o: 3, kh: 3, kw: 1, stride: 1, ph: 1, pw: 0),
        RectangularConv(n: 2, c: 2, h: 6, w: 6, o: 3, kh: 5, kw: 5, stride: 1, ph: 2, pw: 2),
        RectangularConv(n: 1, c: 1, h: 11, w: 11, o: 4, kh: 3, kw: 3, stride: 2, ph: 0, pw: 0),
    ]

    /// FoldedConvolution (batch norm folded, column matrix + sgemm, bias + ReLU) equals conv -> batch norm -> ReLU in
    /// Double, for every kernel shape of Inception-v3; input and output may be channel slices of wider maps, and a
    /// map may be cut into several products.
    @Test(arguments: convolutions, [false, true])
    func foldedConvolutionMatchesNaive(_ s: RectangularConv, sliced: Bool) {
        var g = SeededGenerator(seed: UInt64(s.kh * 100 + s.kw * 10 + s.stride))
        let x = g.normals(s.n * s.c * s.h * s.w).map(Double.init)
        let w = g.normals(s.o * s.c * s.kh * s.kw).map { Double($0) * 0.5 }
        let gamma = (0..<s.o).map { _ in Double(g.nextUniform(in: 0.5, 1.5)) }
        let beta = (0..<s.o).map { _ in Double(g.nextUniform(in: -0.5, 0.5)) }
        let mean = (0..<s.o).map { _ in Double(g.nextUniform(in: -0.5, 0.5)) }
        let variance = (0..<s.o).map { _ in Double(g.nextUniform(in: 0.2, 2)) }
        let pre = naiveRectangularConv(x: x, weight: w, s)
        let (ho, wo) = (s.outputHeight, s.outputWidth)
        var layer = FoldedConvolution(pytorch: w.map(Float.init), outputChannels: s.o, inputChannels: s.c,
                                      kernelHeight: s.kh, kernelWidth: s.kw, stride: s.stride, paddingHeight: s.ph,
                                      paddingWidth: s.pw, gamma: gamma.map(Float.init), beta: beta.map(Float.init),
                                      mean: mean.map(Float.init), variance: variance.map(Float.init), epsilon: 1e-3)
        if sliced { layer.columnBudget = 1; layer.minimumChunk = 5 }
        // Channels-last input, channels at offset 2 of rows of c + 3 floats when sliced.
        let (inOffset, inStride) = sliced ? (2, s.c + 3) : (0, s.c)
        let (outOffset, outStride) = sliced ? (1, s.o + 4) : (0, s.o)
        var input = [Float](repeating: .nan, count: s.n * s.h * s.w * inStride)
        for n in 0..<s.n { for c in 0..<s.c { for i in 0..<s.h { for j in 0..<s.w {
            input[((n * s.h + i) * s.w + j) * inStride + inOffset + c] = Float(x[((n * s.c + c) * s.h + i) * s.w + j])
        } } } }
        var output = [Float](repeating: -7, count: s.n * ho * wo * outStride)
        var columns = [Float](repeating: .nan, count: max(1, layer.columnScratch(positions: s.n * ho * wo)))
        input.withUnsafeMutableBufferPointer { i in output.withUnsafeMutableBufferPointer { o in columns.withUnsafeMutableBufferPointer { c in
            let xm = FeatureMap(base: i.baseAddress!, images: s.n, height: s.h, width: s.w, channels: inStride).slice(inOffset..<(inOffset + s.c))
            let ym = FeatureMap(base: o.baseAddress!, images: s.n, height: ho, width: wo, channels: outStride).slice(outOffset..<(outOffset + s.o))
            layer.apply(xm, into: ym, columns: c.baseAddress!)
        } } }
        var worst = 0.0
        for n in 0..<s.n { for o in 0..<s.o { for i in 0..<ho { for j in 0..<wo {
            let z = pre[((n * s.o + o) * ho + i) * wo + j]
            let expected = max(0, gamma[o] * (z - mean[o]) / (variance[o] + 1e-3).squareRoot() + beta[o])
            worst = max(worst, abs(Double(output[((n * ho + i) * wo + j) * outStride + outOffset + o]) - expected))
        } } } }
        #expect(worst < 1e-4, "max |fast - naive| = \(worst)")
        // Channels outside the output slice are untouched.
        if sliced { #expect(output[0] == -7 && output[outStride - 1] == -7) }
    }

    /// The three pools (max 3/2, max 3/1 pad 1, average 3/1 pad 1 without the padding) equal the naive ones, also
    /// on channel slices.
    @Test(arguments: [(2, 0, true), (1, 1, true), (1, 1, false)])
    func poolsMatchNaive(stride: Int, padding: Int, maximum: Bool) {
        let (n, c, h, w) = (2, 5, 7, 6)
        var g = SeededGenerator(seed: 3)
        let x = g.normals(n * c * h * w).map(Double.init)
        let expected = naivePool3x3(x, planes: n * c, h: h, w: w, stride: stride, padding: padding, maximum: maximum)
        let ho = Pool3x3.outputSide(h, stride: stride, padding: padding), wo = Pool3x3.outputSide(w, stride: stride, padding: padding)
        var input = [Float](repeating: .nan, count: n * h * w * (c + 2))
        for b in 0..<n { for ch in 0..<c { for i in 0..<h { for j in 0..<w {
            input[((b * h + i) * w + j) * (c + 2) + 1 + ch] = Float(x[((b * c + ch) * h + i) * w + j])
        } } } }
        var output = [Float](repeating: 0, count: n * ho * wo * c)
        input.withUnsafeMutableBufferPointer { i in output.withUnsafeMutableBufferPointer { o in
            let xm = FeatureMap(base: i.baseAddress!, images: n, height: h, width: w, channels: c + 2).slice(1..<(c + 1))
            let ym = FeatureMap(base: o.baseAddress!, images: n, height: ho, width: wo, channels: c)
            if maximum { Pool3x3.max(xm, stride: stride, padding: padding, into: ym) } else { Pool3x3.average(xm, stride: stride, padding: padding, into: ym) }
        } }
        var worst = 0.0
        for b in 0..<n { for ch in 0..<c { for i in 0..<ho { for j in 0..<wo {
            let value = Double(output[((b * ho + i) * wo + j) * c + ch])
            worst = max(worst, abs(value - expected[((b * c + ch) * ho + i) * wo + j]))
        } } } }
        #expect(worst < 1e-6)
    }

    /// The resize to 299 (then 2x - 1) equals bilinear interpolation written from PyTorch's definition.
    @Test func resizeMatchesNaiveBilinear() {
        var g = SeededGenerator(seed: 5)
        let image = (0..<(28 * 28)).map { _ in g.nextUniform() }
        let expected = naiveBilinear(image.map(Double.init), side: 28, to: 299)
        var output = [Float](repeating: 0, count: 299 * 299)
        image.withUnsafeBufferPointer { i in output.withUnsafeMutableBufferPointer { o in
            BilinearResize(from: 28, to: 299).apply(i.baseAddress!, into: o.baseAddress!)
        } }
        let worst = zip(output, expected).map { abs(Double($0) - (2 * $1 - 1)) }.max()!
        #expect(worst < 1e-5)
    }

    // MARK: - Weights

    /// A state dict with a tensor missing, one mis-shaped and one unknown is refused with one error naming all three.
    @Test func refusesIncompleteWeightsListingEveryProblem() throws {
        var tensors = InceptionV3.randomTensors(seed: 1)
        _ = try InceptionV3(tensors: tensors, source: "good")
        tensors["Mixed_6c.branch7x7_2.conv.weight"] = nil
        let bad = tensors["Mixed_7c.branch_pool.bn.running_var"]!
        tensors["Mixed_7c.branch_pool.bn.running_var"] = SafeTensorsEntry(dtype: .f32, shape: [2, 96], bytes: bad.bytes)
        tensors["AuxLogits.fc.weight"] = bad
        do {
            _ = try InceptionV3(tensors: tensors, source: "w.safetensors")
            Issue.record("incomplete weights were accepted")
        } catch let error as InceptionWeightsError {
            let text = error.description
            #expect(!text.contains("\n"))
            #expect(text.hasPrefix("w.safetensors is not pytorch-fid's Inception-v3"))
            #expect(text.contains("'Mixed_6c.branch7x7_2.conv.weight' is missing"))
            #expect(text.contains("'Mixed_7c.branch_pool.bn.running_var' has shape [2, 96], needs [192]"))
            #expect(text.contains("unexpected tensor 'AuxLogits.fc.weight'"))
        }
    }

    /// 94 convolutions; about 5.7 G multiply-adds per image (the issue's figure), recomputed here layer by layer from
    /// the sides the forward pass produces.
    @Test func multiplyAddCountMatchesTheNetwork() {
        #expect(InceptionV3.layers.count == 94)
        let count = Double(InceptionV3.multiplyAddsPerImage)
        #expect(count > 5.6e9 && count < 5.8e9, "\(count)")
    }

    // MARK: - Parity with pytorch-fid

    /// pytorch-fid 0.3.0's own InceptionV3 on seeded random weights (scripts/inception_reference.py, run here with
    /// scripts/torch-python: Debian's torch, which CI installs with `scripts/install-deps --torch`; nothing is
    /// committed) against this network on the same 48 MNIST-like images drawn by the script:
    /// - every image's 2048 features agree to 1e-4 relative (max |ours - torch| / max |torch|). For scale, the script
    ///   measures how far each plausible mistake moves them on the same weights (same measure): average pools with
    ///   count_include_pad=True 0.13, average instead of max pool in Mixed_7c 0.37, batch-norm eps 1e-5 0.015,
    ///   align_corners=True 0.11, bicubic resize 0.19: 150 to 3700 times the tolerance. (The script floors the
    ///   batch-norm variances at 0.1, so that no near-constant channel amplifies float32 rounding: torch's own float32
    ///   features are then within 7e-6 of its float64 ones, against 1.5e-4 without the floor.)
    /// - our Frechet distance between the two sets (24 thin-stroke and 24 thick-stroke images) equals pytorch-fid's
    ///   calculate_frechet_distance on its own features to 1e-3 relative. With 24 images in 2048 dimensions both
    ///   covariances have rank 23, but the sets differ (FID ~18 against traces ~6 and ~10 and a mean term ~10), so the
    ///   distance is not a small difference of large terms: scipy's sqrtm error on the singular product (about
    ///   sqrt(eps) of its norm per zero eigenvalue) and the features' 1e-4 stay well under the tolerance;
    /// - the features are the same bits on 1 and 2 threads.
    @Test func featuresAndFIDMatchPytorchFID() throws {
        let folder = NSTemporaryDirectory() + "inception-parity-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: repositoryRoot + "/scripts/torch-python")
        process.arguments = [repositoryRoot + "/scripts/inception_reference.py", "parity", folder]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, """
            inception_reference.py failed (exit \(process.terminationStatus); it needs torch and pytorch-fid: \
            scripts/install-deps --torch): \(String(decoding: message, as: UTF8.self))
            """)

        let network = try InceptionV3(contentsOf: folder + "/weights.safetensors")
        let images = try Data(contentsOf: URL(fileURLWithPath: folder + "/images.bin"))
        try #require(images.prefix(8) == Data("IMAGES01".utf8))
        let header = images.subdata(in: 8..<20).withUnsafeBytes { Array($0.bindMemory(to: Int32.self)).map(Int.init) }
        let (count, side) = (header[0], header[1])
        let pixels = images.suffix(from: 20).map { Float($0) / 255 }
        try #require(pixels.count == count * side * side)
        let file = try Data(contentsOf: URL(fileURLWithPath: folder + "/features.bin"))
        try #require(file.prefix(8) == Data("FEATURE1".utf8))
        let expected = file.suffix(from: 16).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        try #require(expected.count == count * InceptionV3.featureSize)
        let reference = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/reference.json"))) as? [String: Any])
        let first = try #require(reference["first"] as? Int)

        let ours = network.features(of: pixels, count: count, side: side, threads: 2, progress: nil)
        let d = InceptionV3.featureSize
        var worst = 0.0
        for image in 0..<count {
            let a = ours[(image * d)..<((image + 1) * d)], b = expected[(image * d)..<((image + 1) * d)]
            let scale = Double(b.map(abs).max()!)
            let error = Double(zip(a, b).map { abs($0 - $1) }.max()!) / scale
            worst = max(worst, error)
        }
        #expect(worst < 1e-4, "features differ from pytorch-fid's by \(worst) relative")

        // The same weights as a legacy torch.save .pth, read by the restricted unpickler: the same features, bit for bit.
        let fromPickle = try InceptionFeatureNetwork(path: folder + "/weights.pth")
        let two = Array(pixels[..<(2 * side * side)])
        #expect(fromPickle.network.features(of: two, count: 2, side: side, threads: 1, progress: nil)
                == network.features(of: two, count: 2, side: side, threads: 1, progress: nil),
                "the .pth and safetensors weights give different features")

        let fid = try FrechetDistance.compute(
            try FeatureStatistics(features: Array(ours[..<(first * d)]), dimension: d),
            try FeatureStatistics(features: Array(ours[(first * d)...]), dimension: d))
        let torchFID = try #require(reference["fid"] as? Double)
        #expect(abs(fid - torchFID) / torchFID < 1e-3, "FID \(fid), pytorch-fid \(torchFID)")

        let single = network.features(of: Array(pixels[..<(16 * side * side)]), count: 16, side: side, threads: 1, progress: nil)
        #expect(single == Array(ours[..<(16 * d)]), "features depend on the thread count")
    }
}
