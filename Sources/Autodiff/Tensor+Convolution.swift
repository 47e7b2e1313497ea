import Dispatch
import LinearAlgebra

// Convolution, transposed convolution and max-pooling over NCHW tensors. Each op's pullback sits
// right beside its forward.
//
// Both convolutions reduce to BLAS sgemm through the column ("im2col") matrix of an image: for an image
// [C, H, W] and a K x K window with stride s and padding p, row (c, ki, kj) of the column matrix holds,
// for every output position (oh, ow), the input value x[c, oh*s - p + ki, ow*s - p + kj] (0 outside the
// image). Its shape is [C*K*K, Ho*Wo]. `col2im` is the adjoint of `im2col`: it scatter-adds a column matrix
// back into an image. Images are processed in groups whose column matrices sit side by side in one
// buffer [C*K*K, G*Ho*Wo], so that each group costs one large gemm instead of G small ones while the
// buffer stays bounded (see `ConvolutionGeometry.imagesPerGroup`). Within a group, im2col / col2im run
// image by image on as many threads as OpenBLAS uses, each thread with its own zero-padded copy of the
// current image (its "frame") so that the copy loops need no bounds tests.

/// How a K x K window with a stride and zero padding slides over one [channels, height, width] image.
struct ConvolutionGeometry {
    let channels: Int, height: Int, width: Int
    let kernel: Int, stride: Int, padding: Int
    /// Window positions per column and per row: (height + 2 padding - kernel) / stride + 1.
    let outputHeight: Int, outputWidth: Int

    init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        self.channels = channels; self.height = height; self.width = width
        self.kernel = kernel; self.stride = stride; self.padding = padding
        outputHeight = (height + 2 * padding - kernel) / stride + 1
        outputWidth = (width + 2 * padding - kernel) / stride + 1
    }

    /// Rows of the column matrix: C*K*K.
    var rows: Int { channels * kernel * kernel }
    /// Columns of the column matrix for one image: Ho*Wo.
    var columns: Int { outputHeight * outputWidth }
    /// Values in one image: C*H*W.
    var imageSize: Int { channels * height * width }

    /// Upper bound on the floats in one group's column buffer (1 MB: larger buffers measured no faster).
    static let columnBufferBudget = 1 << 18

    /// How many of `images` images to put in one column buffer: as many as fit in the budget, at least one.
    func imagesPerGroup(_ images: Int) -> Int {
        max(1, min(images, Self.columnBufferBudget / max(1, rows * columns)))
    }

    /// Height and width of an image with its zero padding: H + 2p, W + 2p.
    var paddedHeight: Int { height + 2 * padding }
    var paddedWidth: Int { width + 2 * padding }
    /// Floats of scratch space `im2col` and `col2im` need (none without padding).
    var paddedImageSize: Int { padding == 0 ? 0 : channels * paddedHeight * paddedWidth }

    /// Writes the column matrix of `image` ([C, H, W]) into `columns`, whose rows are `ld` floats apart.
    /// `scratch` must hold `paddedImageSize` floats: with padding the image is first copied into a
    /// zero-bordered [C, H + 2p, W + 2p] frame so that the copy loops have fixed lengths and no bounds tests.
    func im2col(_ image: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>, ld: Int,
                scratch: UnsafeMutablePointer<Float>) {
        let (k, s, ho, wo) = (kernel, stride, outputHeight, outputWidth)
        let (hp, wp) = (paddedHeight, paddedWidth)
        let source: UnsafePointer<Float>
        if padding == 0 {
            source = image
        } else {
            fillZero(scratch, paddedImageSize)
            for c in 0..<channels { for h in 0..<height {
                (scratch + (c * hp + h + padding) * wp + padding).update(from: image + (c * height + h) * width, count: width)
            } }
            source = UnsafePointer(scratch)
        }
        for c in 0..<channels { for ki in 0..<k { for kj in 0..<k {
            let plane = source + c * hp * wp + ki * wp + kj
            let row = columns + ((c * k + ki) * k + kj) * ld
            for oh in 0..<ho {
                let src = plane + oh * s * wp, dst = row + oh * wo
                var t = 0
                while t < wo { dst[t] = src[t &* s]; t &+= 1 }
            }
        } } }
    }

    /// The adjoint of `im2col`: adds every entry of `columns` (rows `ld` floats apart) to the pixel of
    /// `image` it was read from. Entries that fall in the padding are dropped. `scratch` as for `im2col`.
    func col2im(_ columns: UnsafePointer<Float>, ld: Int, addingInto image: UnsafeMutablePointer<Float>,
                scratch: UnsafeMutablePointer<Float>) {
        let (k, s, ho, wo) = (kernel, stride, outputHeight, outputWidth)
        let (hp, wp) = (paddedHeight, paddedWidth)
        let target: UnsafeMutablePointer<Float>
        if padding == 0 { target = image } else { fillZero(scratch, paddedImageSize); target = scratch }
        for c in 0..<channels { for ki in 0..<k { for kj in 0..<k {
            let plane = target + c * hp * wp + ki * wp + kj
            let row = columns + ((c * k + ki) * k + kj) * ld
            for oh in 0..<ho {
                let dst = plane + oh * s * wp, src = row + oh * wo
                var t = 0
                while t < wo { dst[t &* s] += src[t]; t &+= 1 }
            }
        } } }
        if padding != 0 {
            for c in 0..<channels { for h in 0..<height {
                let src = scratch + (c * hp + h + padding) * wp + padding, dst = image + (c * height + h) * width
                var t = 0
                while t < width { dst[t] += src[t]; t &+= 1 }
            } }
        }
    }
}

extension ConvolutionGeometry {
    /// Threads that share the im2col / col2im work of a group of images: as many as OpenBLAS uses
    /// (`OPENBLAS_NUM_THREADS`), whose threads sit idle meanwhile. Two measured ~15% faster than one
    /// for the conv VAE's layers on two cores.
    static var workers: Int { max(1, BLASRuntime.threadCount) }

    /// Floats of frame scratch the batch `im2col` / `col2im` need: one padded image per worker.
    var frameScratchSize: Int { max(1, Self.workers * paddedImageSize) }

    /// Runs `body(first, end, frame)` over 0..<count split into contiguous chunks, one per worker,
    /// each worker with its own padded-image frame from `frames`.
    @inline(__always)
    private func splitImages(_ count: Int, frames: UnsafeMutableBufferPointer<Float>,
                             _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        let frameSize = paddedImageSize
        // Never more workers than frames, even if the BLAS thread count changed since they were allocated.
        let workers = min(count, Self.workers, frameSize == 0 ? Int.max : frames.count / frameSize)
        let base = frames.baseAddress!
        if workers <= 1 { body(0, count, base); return }
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            body(w * count / workers, (w + 1) * count / workers, base + w * frameSize)
        }
    }

    /// The column matrices of `count` consecutive images at `images`, side by side in `columns`
    /// ([C*K*K, count*Ho*Wo]); `frames` holds `frameScratchSize` floats.
    func im2col(images: UnsafePointer<Float>, count: Int, into columns: UnsafeMutablePointer<Float>,
                frames: UnsafeMutableBufferPointer<Float>) {
        let ld = count * self.columns, spatial = self.columns, imageSize = self.imageSize
        splitImages(count, frames: frames) { first, end, frame in
            for i in first..<end { im2col(images + i * imageSize, into: columns + i * spatial, ld: ld, scratch: frame) }
        }
    }

    /// Adds back the side-by-side column matrices ([C*K*K, count*Ho*Wo]) of `count` consecutive images
    /// into `images`; `frames` holds `frameScratchSize` floats.
    func col2im(_ columns: UnsafePointer<Float>, count: Int, addingInto images: UnsafeMutablePointer<Float>,
                frames: UnsafeMutableBufferPointer<Float>) {
        let ld = count * self.columns, spatial = self.columns, imageSize = self.imageSize
        splitImages(count, frames: frames) { first, end, frame in
            for i in first..<end { col2im(columns + i * spatial, ld: ld, addingInto: images + i * imageSize, scratch: frame) }
        }
    }
}

/// Sets `count` floats (often only a few) to zero.
@inline(__always)
private func fillZero(_ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i < count { pointer[i] = 0; i &+= 1 }
}

/// Copies `count` consecutive images of an NCHW tensor ([count, channels, spatial] from `source`) into the
/// side-by-side layout [channels, count*spatial] at `destination`.
@inline(__always)
private func gatherChannels(_ source: UnsafePointer<Float>, count: Int, channels: Int, spatial: Int,
                            into destination: UnsafeMutablePointer<Float>) {
    let ld = count * spatial
    for i in 0..<count { for c in 0..<channels {
        (destination + c * ld + i * spatial).update(from: source + (i * channels + c) * spatial, count: spatial)
    } }
}

/// The inverse of `gatherChannels`, adding: destination[i, c, :] += source[c, i*spatial ..< (i+1)*spatial].
@inline(__always)
private func scatterAddChannels(_ source: UnsafePointer<Float>, count: Int, channels: Int, spatial: Int,
                                into destination: UnsafeMutablePointer<Float>) {
    let ld = count * spatial
    for i in 0..<count { for c in 0..<channels {
        let src = source + c * ld + i * spatial, dst = destination + (i * channels + c) * spatial
        for j in 0..<spatial { dst[j] += src[j] }
    } }
}

/// db[c] += sum over images and positions of g[n, c, :] for an NCHW gradient, accumulated in Double.
private func accumulateBiasGradient(_ g: UnsafeBufferPointer<Float>, images: Int, channels: Int, spatial: Int,
                                    into db: UnsafeMutableBufferPointer<Float>) {
    for c in 0..<channels {
        var total = 0.0
        for n in 0..<images {
            let plane = g.baseAddress! + (n * channels + c) * spatial
            var partial: Float = 0
            for j in 0..<spatial { partial += plane[j] }
            total += Double(partial)
        }
        db[c] += Float(total)
    }
}

/// An uninitialised scratch buffer of `count` floats (every user writes before reading).
@inline(__always)
private func scratch(_ count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}

extension Tensor {
    /// 2-D convolution (cross-correlation) as PyTorch's `nn.Conv2d`, NCHW:
    /// y[n, o, i, j] = b[o] + sum over c, ki, kj of w[o, c, ki, kj] * x[n, c, i*s - p + ki, j*s - p + kj]
    /// with x = 0 outside the image.
    ///
    /// Shapes: x [N, C, H, W], weight [O, C, K, K], bias [O] -> y [N, O, Ho, Wo], Ho = (H + 2p - K)/s + 1
    /// (floor), likewise Wo. Forward: Y = W [O, C*K*K] x im2col(x) [C*K*K, Ho*Wo] per image (batched by groups).
    /// Pullback: dW += dY im2col(x)^T, dx += col2im(W^T dY), db += sum of dY over images and positions.
    /// The column matrix is recomputed in the pullback rather than kept, so the graph holds only x.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor, stride: Int, padding: Int) -> Tensor {
        precondition(x.rank == 4 && weight.rank == 4 && bias.rank == 1 && weight.shape[1] == x.shape[1]
                     && weight.shape[2] == weight.shape[3] && bias.shape[0] == weight.shape[0],
                     "conv2d: x \(x.shape) (want [N, C, H, W]), weight \(weight.shape) (want [O, C, K, K]), bias \(bias.shape)")
        precondition(stride >= 1 && padding >= 0, "conv2d: stride \(stride) must be >= 1, padding \(padding) >= 0")
        let kernel = weight.shape[2]
        precondition(x.shape[2] + 2 * padding >= kernel && x.shape[3] + 2 * padding >= kernel,
                     "conv2d: kernel \(kernel) larger than the padded input \(x.shape) with padding \(padding)")
        let geometry = ConvolutionGeometry(channels: x.shape[1], height: x.shape[2], width: x.shape[3],
                                           kernel: kernel, stride: stride, padding: padding)
        let images = x.shape[0], outChannels = weight.shape[0]
        let rows = geometry.rows, spatial = geometry.columns, imageSize = geometry.imageSize
        let group = geometry.imagesPerGroup(images)

        var y = scratch(images * outChannels * spatial)
        var columns = scratch(rows * group * spatial)
        var frame = scratch(geometry.frameScratchSize)
        var product = scratch(outChannels * group * spatial)
        x.data.withUnsafeBufferPointer { px in weight.data.withUnsafeBufferPointer { pw in
        bias.data.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
        columns.withUnsafeMutableBufferPointer { pc in frame.withUnsafeMutableBufferPointer { pf in product.withUnsafeMutableBufferPointer { pp in
            for start in Swift.stride(from: 0, to: images, by: group) {
                let count = min(group, images - start), ld = count * spatial
                geometry.im2col(images: px.baseAddress! + start * imageSize, count: count, into: pc.baseAddress!,
                                frames: pf)
                BLAS.gemm(.none, .none, m: outChannels, n: ld, k: rows, a: pw.baseAddress!, lda: rows,
                          b: pc.baseAddress!, ldb: ld, c: pp.baseAddress!, ldc: ld)
                for i in 0..<count { for o in 0..<outChannels {
                    let src = pp.baseAddress! + o * ld + i * spatial
                    let dst = py.baseAddress! + ((start + i) * outChannels + o) * spatial
                    let b = pb[o]
                    for j in 0..<spatial { dst[j] = src[j] + b }
                } }
            }
        } } } } } } }

        let outputShape = [images, outChannels, geometry.outputHeight, geometry.outputWidth]
        return Tensor(shape: outputShape, data: y, inputs: [x, weight, bias]) { out in
            out.grad!.withUnsafeBufferPointer { g in
                if bias.requiresGrad {
                    bias.withGrad { db in accumulateBiasGradient(g, images: images, channels: outChannels,
                                                                 spatial: spatial, into: db) }
                }
                guard x.requiresGrad || weight.requiresGrad else { return }
                var columns = scratch(rows * group * spatial)
                var frame = scratch(geometry.frameScratchSize)
                var gradientGroup = scratch(outChannels * group * spatial)
                x.data.withUnsafeBufferPointer { px in weight.data.withUnsafeBufferPointer { pw in
                columns.withUnsafeMutableBufferPointer { pc in frame.withUnsafeMutableBufferPointer { pf in gradientGroup.withUnsafeMutableBufferPointer { pg in
                    for start in Swift.stride(from: 0, to: images, by: group) {
                        let count = min(group, images - start), ld = count * spatial
                        // dY of the group as [O, count*Ho*Wo]; a single image is already in that layout.
                        let dy: UnsafePointer<Float>
                        if count == 1 {
                            dy = g.baseAddress! + start * outChannels * spatial
                        } else {
                            gatherChannels(g.baseAddress! + start * outChannels * spatial, count: count,
                                           channels: outChannels, spatial: spatial, into: pg.baseAddress!)
                            dy = UnsafePointer(pg.baseAddress!)
                        }
                        if weight.requiresGrad {
                            geometry.im2col(images: px.baseAddress! + start * imageSize, count: count,
                                            into: pc.baseAddress!, frames: pf)
                            weight.withGrad { dw in
                                BLAS.gemm(.none, .transposed, m: outChannels, n: rows, k: ld, a: dy, lda: ld,
                                          b: pc.baseAddress!, ldb: ld, beta: 1, c: dw.baseAddress!, ldc: rows)
                            }
                        }
                        if x.requiresGrad {
                            BLAS.gemm(.transposed, .none, m: rows, n: ld, k: outChannels, a: pw.baseAddress!, lda: rows,
                                      b: dy, ldb: ld, c: pc.baseAddress!, ldc: ld)
                            x.withGrad { dx in
                                geometry.col2im(pc.baseAddress!, count: count,
                                                addingInto: dx.baseAddress! + start * imageSize, frames: pf)
                            }
                        }
                    }
                } } } } }
            }
        }
    }

    /// 2-D transposed convolution as PyTorch's `nn.ConvTranspose2d`, NCHW: the adjoint (with respect to x)
    /// of `conv2d` with the same weight, stride and padding, plus a bias:
    /// y[n, o, i*s - p + ki, j*s - p + kj] += w[c, o, ki, kj] * x[n, c, i, j] (positions outside y dropped), + b[o].
    ///
    /// Shapes: x [N, C_in, H, W], weight [C_in, C_out, K, K], bias [C_out] -> y [N, C_out, Ho, Wo],
    /// Ho = (H - 1)*s - 2p + K, likewise Wo (PyTorch's output_padding = 0, dilation = 1).
    /// Forward: y = col2im(W^T [C_out*K*K, C_in] x X [C_in, H*W]) per image (batched by groups).
    /// Pullback, with D = im2col(dY) [C_out*K*K, H*W]: dx += W D, dW += X D^T, db += sum of dY over images
    /// and positions.
    public static func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor, stride: Int, padding: Int) -> Tensor {
        precondition(x.rank == 4 && weight.rank == 4 && bias.rank == 1 && weight.shape[0] == x.shape[1]
                     && weight.shape[2] == weight.shape[3] && bias.shape[0] == weight.shape[1],
                     "convTranspose2d: x \(x.shape) (want [N, C_in, H, W]), weight \(weight.shape) (want [C_in, C_out, K, K]), bias \(bias.shape)")
        precondition(stride >= 1 && padding >= 0,
                     "convTranspose2d: stride \(stride) must be >= 1, padding \(padding) >= 0")
        let kernel = weight.shape[2]
        let outputHeight = (x.shape[2] - 1) * stride - 2 * padding + kernel
        let outputWidth = (x.shape[3] - 1) * stride - 2 * padding + kernel
        precondition(x.shape[2] > 0 && x.shape[3] > 0 && outputHeight > 0 && outputWidth > 0,
                     "convTranspose2d: input \(x.shape) with kernel \(kernel), stride \(stride), padding \(padding) gives output \(outputHeight)x\(outputWidth)")
        let images = x.shape[0], inChannels = x.shape[1], outChannels = weight.shape[1]
        // The geometry of the conv2d this op is the adjoint of: it slides over the output image and its
        // window positions are exactly the H x W input pixels.
        let geometry = ConvolutionGeometry(channels: outChannels, height: outputHeight, width: outputWidth,
                                           kernel: kernel, stride: stride, padding: padding)
        assert(geometry.outputHeight == x.shape[2] && geometry.outputWidth == x.shape[3])
        let rows = geometry.rows, spatial = geometry.columns, imageSize = geometry.imageSize
        let group = geometry.imagesPerGroup(images)

        var y = scratch(images * imageSize)
        var columns = scratch(rows * group * spatial)
        var frame = scratch(geometry.frameScratchSize)
        var inputGroup = scratch(inChannels * group * spatial)
        x.data.withUnsafeBufferPointer { px in weight.data.withUnsafeBufferPointer { pw in
        bias.data.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
        columns.withUnsafeMutableBufferPointer { pc in frame.withUnsafeMutableBufferPointer { pf in inputGroup.withUnsafeMutableBufferPointer { pxg in
            let planeSize = outputHeight * outputWidth
            for n in 0..<images { for o in 0..<outChannels {
                (py.baseAddress! + (n * outChannels + o) * planeSize).update(repeating: pb[o], count: planeSize)
            } }
            for start in Swift.stride(from: 0, to: images, by: group) {
                let count = min(group, images - start), ld = count * spatial
                let xg: UnsafePointer<Float>
                if count == 1 {
                    xg = px.baseAddress! + start * inChannels * spatial
                } else {
                    gatherChannels(px.baseAddress! + start * inChannels * spatial, count: count,
                                   channels: inChannels, spatial: spatial, into: pxg.baseAddress!)
                    xg = UnsafePointer(pxg.baseAddress!)
                }
                BLAS.gemm(.transposed, .none, m: rows, n: ld, k: inChannels, a: pw.baseAddress!, lda: rows,
                          b: xg, ldb: ld, c: pc.baseAddress!, ldc: ld)
                geometry.col2im(pc.baseAddress!, count: count, addingInto: py.baseAddress! + start * imageSize,
                                frames: pf)
            }
        } } } } } } }

        return Tensor(shape: [images, outChannels, outputHeight, outputWidth], data: y,
                      inputs: [x, weight, bias]) { out in
            out.grad!.withUnsafeBufferPointer { g in
                if bias.requiresGrad {
                    bias.withGrad { db in accumulateBiasGradient(g, images: images, channels: outChannels,
                                                                 spatial: outputHeight * outputWidth, into: db) }
                }
                guard x.requiresGrad || weight.requiresGrad else { return }
                var columns = scratch(rows * group * spatial)
                var frame = scratch(geometry.frameScratchSize)
                var inputGroup = scratch(inChannels * group * spatial)
                x.data.withUnsafeBufferPointer { px in weight.data.withUnsafeBufferPointer { pw in
                columns.withUnsafeMutableBufferPointer { pc in frame.withUnsafeMutableBufferPointer { pf in inputGroup.withUnsafeMutableBufferPointer { pxg in
                    for start in Swift.stride(from: 0, to: images, by: group) {
                        let count = min(group, images - start), ld = count * spatial
                        geometry.im2col(images: g.baseAddress! + start * imageSize, count: count,
                                        into: pc.baseAddress!, frames: pf)
                        if weight.requiresGrad {
                            let xg: UnsafePointer<Float>
                            if count == 1 {
                                xg = px.baseAddress! + start * inChannels * spatial
                            } else {
                                gatherChannels(px.baseAddress! + start * inChannels * spatial, count: count,
                                               channels: inChannels, spatial: spatial, into: pxg.baseAddress!)
                                xg = UnsafePointer(pxg.baseAddress!)
                            }
                            weight.withGrad { dw in
                                BLAS.gemm(.none, .transposed, m: inChannels, n: rows, k: ld, a: xg, lda: ld,
                                          b: pc.baseAddress!, ldb: ld, beta: 1, c: dw.baseAddress!, ldc: rows)
                            }
                        }
                        if x.requiresGrad {
                            x.withGrad { dx in
                                let dxStart = dx.baseAddress! + start * inChannels * spatial
                                if count == 1 {
                                    BLAS.gemm(.none, .none, m: inChannels, n: ld, k: rows, a: pw.baseAddress!, lda: rows,
                                              b: pc.baseAddress!, ldb: ld, beta: 1, c: dxStart, ldc: ld)
                                } else {
                                    BLAS.gemm(.none, .none, m: inChannels, n: ld, k: rows, a: pw.baseAddress!, lda: rows,
                                              b: pc.baseAddress!, ldb: ld, c: pxg.baseAddress!, ldc: ld)
                                    scatterAddChannels(pxg.baseAddress!, count: count, channels: inChannels,
                                                       spatial: spatial, into: dxStart)
                                }
                            }
                        }
                    }
                } } } } }
            }
        }
    }

    /// 2-D max-pooling as PyTorch's `nn.MaxPool2d(size)`: stride = size, no padding, floor mode (trailing
    /// rows and columns that do not fill a window are ignored).
    /// y[n, c, i, j] = max over 0 <= a, b < size of x[n, c, i*size + a, j*size + b].
    ///
    /// Shapes: x [N, C, H, W] -> y [N, C, H / size, W / size].
    /// Pullback: each window's gradient goes to its argmax (the first maximum in row-major order on ties).
    public static func maxPool2d(_ x: Tensor, size: Int) -> Tensor {
        precondition(x.rank == 4, "maxPool2d: x \(x.shape), want [N, C, H, W]")
        precondition(size >= 1 && x.shape[2] >= size && x.shape[3] >= size,
                     "maxPool2d: window \(size) does not fit the input \(x.shape)")
        let planes = x.shape[0] * x.shape[1], height = x.shape[2], width = x.shape[3]
        let outputHeight = height / size, outputWidth = width / size
        let outputCount = planes * outputHeight * outputWidth
        // argmax[i]: the index in x.data of the value output i took.
        var argmax = [Int32](repeating: 0, count: outputCount)
        precondition(x.count <= Int(Int32.max), "maxPool2d: \(x.count) values exceed Int32 indexing")
        var y = scratch(outputCount)
        x.data.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
        argmax.withUnsafeMutableBufferPointer { pa in
            var i = 0
            for plane in 0..<planes { for oh in 0..<outputHeight { for ow in 0..<outputWidth {
                let corner = (plane * height + oh * size) * width + ow * size
                var best = corner, bestValue = px[corner]
                for a in 0..<size {
                    let row = corner + a * width
                    for b in 0..<size where px[row + b] > bestValue {
                        best = row + b; bestValue = px[row + b]
                    }
                }
                py[i] = bestValue; pa[i] = Int32(best)
                i += 1
            } } }
        } } }
        return Tensor(shape: [x.shape[0], x.shape[1], outputHeight, outputWidth], data: y, inputs: [x]) { out in
            out.grad!.withUnsafeBufferPointer { g in argmax.withUnsafeBufferPointer { pa in x.withGrad { dx in
                for i in 0..<outputCount { dx[Int(pa[i])] += g[i] }
            } } }
        }
    }
}
