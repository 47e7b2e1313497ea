import Dispatch
import LinearAlgebra

// Convolution, transposed convolution and max-pooling over NCHW tensors. Each op's pullback sits
// right beside its forward.
//
// Both convolutions reduce to BLAS sgemm through the column ("im2col") matrix of an image, stored position-major:
// for an image [C, H, W] and a K x K window with stride s and padding p, row (oh, ow) of the column matrix holds the
// window of output position (oh, ow), entry (c, ki, kj) being x[c, oh*s - p + ki, ow*s - p + kj] (0 outside the
// image). Its shape is [Ho*Wo, C*K*K]. In this layout each run kj = 0..<K is K consecutive floats of the
// (zero-padded) image, so `im2col` copies runs of K floats (one 16-byte move for the 4 x 4 kernels of the study)
// instead of gathering every s-th float. `col2im` is the adjoint of `im2col`: it scatter-adds a column matrix back
// into an image.
//
// Threads: the batch is cut into blocks of images fixed by the geometry (`imagesPerGroup`), and the blocks are
// spread over the workers (`Parallel.forEachBlock`). Each worker does all the work of its block on its own:
// im2col into its own column buffer (the block's column matrices one after the other, [G*Ho*Wo, C*K*K], so the
// block costs one gemm instead of G small ones), one single-threaded sgemm, and the scatter into the output.
// Weight gradients are computed per block and added in block order, so results do not depend on the thread count.
// With padding, each image is first copied into a zero-bordered frame so that the copy loops need no bounds tests.

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

    /// Entries of one window, the width of the column matrix: C*K*K.
    var rows: Int { channels * kernel * kernel }
    /// Window positions of one image, the height of its column matrix: Ho*Wo.
    var columns: Int { outputHeight * outputWidth }
    /// Values in one image: C*H*W.
    var imageSize: Int { channels * height * width }

    /// Upper bound on the floats in one block's column buffer (1 MB, per worker).
    static let columnBufferBudget = 1 << 18

    /// How many of `images` images make one block: as many as fit the column budget, but no more than a quarter
    /// of the images (so that a batch makes at least four blocks to share among the workers); at least one.
    func imagesPerGroup(_ images: Int) -> Int {
        max(1, min((images + 3) / 4, Self.columnBufferBudget / max(1, rows * columns)))
    }

    /// Height and width of an image with its zero padding: H + 2p, W + 2p.
    var paddedHeight: Int { height + 2 * padding }
    var paddedWidth: Int { width + 2 * padding }
    /// Floats of frame scratch `im2col` and `col2im` need (none without padding).
    var frameSize: Int { padding == 0 ? 0 : channels * paddedHeight * paddedWidth }

    /// Copies `image` ([C, H, W]) into the middle of `frame` ([C, H + 2p, W + 2p]), whose border must already be
    /// zero: it is written only here, as zeros, once per block (`im2col(images:count:into:frame:)`).
    private func fill(_ frame: UnsafeMutablePointer<Float>, from image: UnsafePointer<Float>) {
        let (hp, wp) = (paddedHeight, paddedWidth)
        for c in 0..<channels { for h in 0..<height {
            let src = image + (c * height + h) * width, dst = frame + (c * hp + h + padding) * wp + padding
            // Rows of 14 or 28 floats: 16-byte moves inline rather than a memmove call per row.
            var t = 0
            while t &+ 4 <= width {
                UnsafeMutableRawPointer(dst + t).storeBytes(of: UnsafeRawPointer(src + t).loadUnaligned(as: SIMD4<Float>.self),
                                                            as: SIMD4<Float>.self)
                t &+= 4
            }
            while t < width { dst[t] = src[t]; t &+= 1 }
        } }
    }

    /// The adjoint of `fill`: adds the frame's pixels that lie inside the image into `image`.
    private func addFrame(_ frame: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
        let (hp, wp) = (paddedHeight, paddedWidth)
        for c in 0..<channels { for h in 0..<height {
            let src = frame + (c * hp + h + padding) * wp + padding, dst = image + (c * height + h) * width
            var t = 0
            while t &+ 4 <= width {
                let sum = UnsafeRawPointer(dst + t).loadUnaligned(as: SIMD4<Float>.self)
                    + UnsafeRawPointer(src + t).loadUnaligned(as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(dst + t).storeBytes(of: sum, as: SIMD4<Float>.self)
                t &+= 4
            }
            while t < width { dst[t] += src[t]; t &+= 1 }
        } }
    }

    /// Calls `body(window, entry)` for every channel of every window position, in column-matrix order: `window` is
    /// the offset of the channel's K x K window (its top-left float) in the padded image, `entry` the offset of its
    /// K*K entries in the column matrix. Inlined into each caller with the kernel size fixed, so the loops carry
    /// no per-window dispatch.
    @inline(__always)
    private func forEachChannelWindow(_ body: (_ window: Int, _ entry: Int) -> Void) {
        let plane = paddedHeight &* paddedWidth, area = kernel &* kernel
        var entry = 0
        for oh in 0..<outputHeight {
            var corner = oh &* stride &* paddedWidth
            for _ in 0..<outputWidth {
                var window = corner
                for _ in 0..<channels { body(window, entry); window &+= plane; entry &+= area }
                corner &+= stride
            }
        }
    }

    /// Writes the column matrix of `image` ([C, H, W]) into `columns` ([Ho*Wo, C*K*K], rows consecutive).
    /// `frame` must hold `frameSize` floats with a zero border (see `fill`).
    private func im2col(_ image: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>,
                frame: UnsafeMutablePointer<Float>) {
        let source: UnsafePointer<Float>
        if padding == 0 { source = image } else { fill(frame, from: image); source = UnsafePointer(frame) }
        let wp = paddedWidth
        switch kernel {
        case 4: forEachChannelWindow { copyWindow4(from: source + $0, rowStride: wp, to: columns + $1) }
        case 5: forEachChannelWindow { copyWindow5(from: source + $0, rowStride: wp, to: columns + $1) }
        case 3: forEachChannelWindow { copyWindow3(from: source + $0, rowStride: wp, to: columns + $1) }
        case 1: forEachChannelWindow { columns[$1] = source[$0] }
        default:
            let k = kernel
            forEachChannelWindow { window, entry in
                for ki in 0..<k { for kj in 0..<k { columns[entry &+ ki &* k &+ kj] = source[window &+ ki &* wp &+ kj] } }
            }
        }
    }

    /// The adjoint of `im2col`: adds every entry of `columns` ([Ho*Wo, C*K*K]) to the pixel of `image` it was
    /// read from. Entries that fall in the padding are dropped. `frame` as for `im2col`.
    func col2im(_ columns: UnsafePointer<Float>, addingInto image: UnsafeMutablePointer<Float>,
                frame: UnsafeMutablePointer<Float>) {
        let target: UnsafeMutablePointer<Float>
        if padding == 0 { target = image } else { frame.update(repeating: 0, count: frameSize); target = frame }
        let wp = paddedWidth
        switch kernel {
        case 4: forEachChannelWindow { addWindow4(from: columns + $1, to: target + $0, rowStride: wp) }
        case 3: forEachChannelWindow { addWindow3(from: columns + $1, to: target + $0, rowStride: wp) }
        case 1: forEachChannelWindow { target[$0] += columns[$1] }
        default:
            let k = kernel
            forEachChannelWindow { window, entry in
                for ki in 0..<k { for kj in 0..<k { target[window &+ ki &* wp &+ kj] += columns[entry &+ ki &* k &+ kj] } }
            }
        }
        if padding != 0 { addFrame(frame, into: image) }
    }

    /// The column matrices of `count` consecutive images at `images`, one after the other in `columns`
    /// ([count*Ho*Wo, C*K*K]), on the calling thread.
    func im2col(images: UnsafePointer<Float>, count: Int, into columns: UnsafeMutablePointer<Float>,
                frame: UnsafeMutablePointer<Float>) {
        if padding != 0 { frame.update(repeating: 0, count: frameSize) }
        for i in 0..<count { im2col(images + i * imageSize, into: columns + i * self.columns * rows, frame: frame) }
    }

    /// Adds back the column matrices ([count*Ho*Wo, C*K*K]) of `count` consecutive images into `images`, on the
    /// calling thread.
    func col2im(_ columns: UnsafePointer<Float>, count: Int, addingInto images: UnsafeMutablePointer<Float>,
                frame: UnsafeMutablePointer<Float>) {
        for i in 0..<count { col2im(columns + i * self.columns * rows, addingInto: images + i * imageSize, frame: frame) }
    }
}

/// Copies a 4 x 4 window, whose rows start `rowStride` floats apart in `source`, into 16 consecutive floats: four
/// unaligned 16-byte moves (the study's 4 x 4 kernels).
@inline(__always)
private func copyWindow4(from source: UnsafePointer<Float>, rowStride: Int, to destination: UnsafeMutablePointer<Float>) {
    let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(destination), stride = rowStride &* 4
    to.storeBytes(of: from.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
    to.storeBytes(of: from.loadUnaligned(fromByteOffset: stride, as: SIMD4<Float>.self), toByteOffset: 16,
                  as: SIMD4<Float>.self)
    to.storeBytes(of: from.loadUnaligned(fromByteOffset: 2 &* stride, as: SIMD4<Float>.self), toByteOffset: 32,
                  as: SIMD4<Float>.self)
    to.storeBytes(of: from.loadUnaligned(fromByteOffset: 3 &* stride, as: SIMD4<Float>.self), toByteOffset: 48,
                  as: SIMD4<Float>.self)
}

/// The feature network's 5 x 5 windows: a 16-byte move and one float per row.
@inline(__always)
private func copyWindow5(from source: UnsafePointer<Float>, rowStride: Int, to destination: UnsafeMutablePointer<Float>) {
    for ki in 0..<5 {
        let row = source + ki &* rowStride, target = destination + ki &* 5
        UnsafeMutableRawPointer(target).storeBytes(of: UnsafeRawPointer(row).loadUnaligned(as: SIMD4<Float>.self),
                                                   as: SIMD4<Float>.self)
        target[4] = row[4]
    }
}

/// 3 x 3 windows (vq_vae's decoder convolution), unrolled: a 3-float run is too short for a loop.
@inline(__always)
private func copyWindow3(from source: UnsafePointer<Float>, rowStride: Int, to destination: UnsafeMutablePointer<Float>) {
    for ki in 0..<3 {
        let row = source + ki &* rowStride, target = destination + ki &* 3
        target[0] = row[0]; target[1] = row[1]; target[2] = row[2]
    }
}

/// The adjoint of `copyWindow4`: adds 16 consecutive floats into a 4 x 4 window whose rows start `rowStride`
/// floats apart.
@inline(__always)
private func addWindow4(from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, rowStride: Int) {
    let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(destination)
    for ki in 0..<4 {
        let offset = ki &* rowStride &* 4
        let sum = UnsafeRawPointer(to).loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
            + from.loadUnaligned(fromByteOffset: 16 &* ki, as: SIMD4<Float>.self)
        to.storeBytes(of: sum, toByteOffset: offset, as: SIMD4<Float>.self)
    }
}

/// The adjoint of `copyWindow3`.
@inline(__always)
private func addWindow3(from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, rowStride: Int) {
    for ki in 0..<3 {
        let row = destination + ki &* rowStride, values = source + ki &* 3
        row[0] += values[0]; row[1] += values[1]; row[2] += values[2]
    }
}

/// Uninitialised scratch floats for the blocks of a convolution (one slice per worker, or one per block), freed
/// on deinit.
private final class ScratchBuffer {
    let pointer: UnsafeMutablePointer<Float>
    init(count: Int) { pointer = .allocate(capacity: max(1, count)) }
    deinit { pointer.deallocate() }
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

/// The `count` images at `source` ([count, channels, spatial]) as one [channels, count*spatial] matrix: `source`
/// itself for a single image (already in that layout), else gathered into `scratch`.
@inline(__always)
private func channelMajor(_ source: UnsafePointer<Float>, count: Int, channels: Int, spatial: Int,
                          scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
    if count == 1 { return source }
    gatherChannels(source, count: count, channels: channels, spatial: spatial, into: scratch)
    return UnsafePointer(scratch)
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

/// db[c] += sum over images and positions of g[n, c, :] for an NCHW gradient, accumulated in Double; channels
/// split over the workers.
private func accumulateBiasGradient(_ g: UnsafeBufferPointer<Float>, images: Int, channels: Int, spatial: Int,
                                    into db: UnsafeMutableBufferPointer<Float>) {
    Parallel.forEachRange(channels, itemSize: images * spatial) { range in
        for c in range {
            var total = 0.0
            for n in 0..<images {
                // Eight running sums so the loop vectorises (a single Float sum is one dependent add per value).
                let plane = g.baseAddress! + (n * channels + c) * spatial
                var lanes = SIMD8<Float>.zero
                var j = 0
                while j + 8 <= spatial { lanes += UnsafeRawPointer(plane + j).loadUnaligned(as: SIMD8<Float>.self); j += 8 }
                var partial = lanes.sum()
                while j < spatial { partial += plane[j]; j += 1 }
                total += Double(partial)
            }
            db[c] += Float(total)
        }
    }
}

/// gradient += the `blocks` partial gradients of `size` floats each at `partials`, added in block order.
private func addPartials(_ partials: UnsafePointer<Float>, blocks: Int, size: Int,
                         into gradient: UnsafeMutableBufferPointer<Float>) {
    Parallel.forEachRange(size, itemSize: blocks) { range in
        let target = gradient.baseAddress!
        for b in 0..<blocks {
            let source = partials + b * size
            for j in range { target[j] += source[j] }
        }
    }
}

/// The frame both convolutions' pullbacks share. Cuts `images` into blocks of `group` images over the workers and
/// calls `body(range, scratch, dw, dx)` for each block, with `perWorker` floats of the worker's own scratch, the
/// block's own weight-gradient slot `dw` (to be overwritten, not added to; nil when the weight needs no gradient)
/// and x's gradient `dx` (nil when x needs none; blocks write disjoint images of it). The slots are added into the
/// weight's gradient in block order afterwards, so the result does not depend on the thread count.
private func blockedPullback(images: Int, group: Int, perWorker: Int, x: Tensor, weight: Tensor,
                             _ body: (_ range: Range<Int>, _ scratch: UnsafeMutablePointer<Float>,
                                      _ dw: UnsafeMutablePointer<Float>?, _ dx: UnsafeMutablePointer<Float>?) -> Void) {
    guard x.requiresGrad || weight.requiresGrad else { return }
    let workers = Parallel.workers, blocks = (images + group - 1) / group, weightSize = weight.count
    let buffers = ScratchBuffer(count: workers * perWorker)
    let partials = weight.requiresGrad ? ScratchBuffer(count: blocks * weightSize) : nil
    func run(_ dx: UnsafeMutablePointer<Float>?) {
        Parallel.forEachBlock(images, block: group, workers: workers) { range, worker in
            body(range, buffers.pointer + worker * perWorker,
                 partials.map { $0.pointer + (range.lowerBound / group) * weightSize }, dx)
        }
    }
    if x.requiresGrad { x.withGrad { run($0.baseAddress!) } } else { run(nil) }
    if let partials {
        weight.withGrad { dw in addPartials(partials.pointer, blocks: blocks, size: weightSize, into: dw) }
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
    /// (floor), likewise Wo. Forward: Y = W [O, C*K*K] x im2col(x)^T (im2col(x) [Ho*Wo, C*K*K]) per image (batched
    /// by blocks). Pullback: dW += dY im2col(x), dx += col2im(dY^T W), db += sum of dY over images and positions.
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
        // Per worker: the block's column matrix, its product [O, G*Ho*Wo], a frame.
        let columnsSize = rows * group * spatial, productSize = outChannels * group * spatial
        let workers = Parallel.workers, perWorker = columnsSize + productSize + geometry.frameSize
        let buffers = ScratchBuffer(count: workers * perWorker)

        var y = scratch(images * outChannels * spatial)
        x.data.withUnsafeBufferPointer { px in weight.data.withUnsafeBufferPointer { pw in
        bias.data.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
            Parallel.forEachBlock(images, block: group, workers: workers) { range, worker in
                let columns = buffers.pointer + worker * perWorker, product = columns + columnsSize, frame = product + productSize
                let start = range.lowerBound, count = range.count, ld = count * spatial
                geometry.im2col(images: px.baseAddress! + start * imageSize, count: count, into: columns, frame: frame)
                BLAS.gemm(.none, .transposed, m: outChannels, n: ld, k: rows, a: pw.baseAddress!, lda: rows,
                          b: columns, ldb: rows, c: product, ldc: ld, parallel: false)
                for i in 0..<count { for o in 0..<outChannels {
                    let src = product + o * ld + i * spatial
                    let dst = py.baseAddress! + ((start + i) * outChannels + o) * spatial
                    let b = pb[o]
                    for j in 0..<spatial { dst[j] = src[j] + b }
                } }
            }
        } } } }

        let outputShape = [images, outChannels, geometry.outputHeight, geometry.outputWidth]
        return Tensor(shape: outputShape, data: y, inputs: [x, weight, bias]) { out in
            out.grad!.withUnsafeBufferPointer { g in
                if bias.requiresGrad {
                    bias.withGrad { db in accumulateBiasGradient(g, images: images, channels: outChannels,
                                                                 spatial: spatial, into: db) }
                }
                // Per worker: the column matrix, dY of the block as [O, G*Ho*Wo], a frame.
                let gatheredSize = outChannels * group * spatial
                x.data.withUnsafeBufferPointer { px in weight.data.withUnsafeBufferPointer { pw in
                    blockedPullback(images: images, group: group, perWorker: columnsSize + gatheredSize + geometry.frameSize,
                                    x: x, weight: weight) { range, scratch, dw, dx in
                        let columns = scratch, gathered = columns + columnsSize, frame = gathered + gatheredSize
                        let start = range.lowerBound, count = range.count, ld = count * spatial
                        let dy = channelMajor(g.baseAddress! + start * outChannels * spatial, count: count,
                                              channels: outChannels, spatial: spatial, scratch: gathered)
                        if let dw {
                            geometry.im2col(images: px.baseAddress! + start * imageSize, count: count,
                                            into: columns, frame: frame)
                            BLAS.gemm(.none, .none, m: outChannels, n: rows, k: ld, a: dy, lda: ld,
                                      b: columns, ldb: rows, c: dw, ldc: rows, parallel: false)
                        }
                        if let dx {
                            BLAS.gemm(.transposed, .none, m: ld, n: rows, k: outChannels, a: dy, lda: ld,
                                      b: pw.baseAddress!, ldb: rows, c: columns, ldc: rows, parallel: false)
                            geometry.col2im(columns, count: count, addingInto: dx + start * imageSize, frame: frame)
                        }
                    }
                } }
            }
        }
    }

    /// 2-D transposed convolution as PyTorch's `nn.ConvTranspose2d`, NCHW: the adjoint (with respect to x)
    /// of `conv2d` with the same weight, stride and padding, plus a bias:
    /// y[n, o, i*s - p + ki, j*s - p + kj] += w[c, o, ki, kj] * x[n, c, i, j] (positions outside y dropped), + b[o].
    ///
    /// Shapes: x [N, C_in, H, W], weight [C_in, C_out, K, K], bias [C_out] -> y [N, C_out, Ho, Wo],
    /// Ho = (H - 1)*s - 2p + K, likewise Wo (PyTorch's output_padding = 0, dilation = 1).
    /// Forward: y = col2im(X^T [H*W, C_in] x W [C_in, C_out*K*K]) per image (batched by blocks).
    /// Pullback, with D = im2col(dY) [H*W, C_out*K*K]: dx += W D^T, dW += X D, db += sum of dY over images
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
        // Per worker: the column matrix, the block's input as [C_in, G*H*W], a frame.
        let columnsSize = rows * group * spatial, inputSize = inChannels * group * spatial
        let workers = Parallel.workers, perWorker = columnsSize + inputSize + geometry.frameSize
        let buffers = ScratchBuffer(count: workers * perWorker)

        var y = scratch(images * imageSize)
        x.data.withUnsafeBufferPointer { px in weight.data.withUnsafeBufferPointer { pw in
        bias.data.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
            let planeSize = outputHeight * outputWidth
            Parallel.forEachBlock(images, block: group, workers: workers) { range, worker in
                let columns = buffers.pointer + worker * perWorker, gathered = columns + columnsSize, frame = gathered + inputSize
                let start = range.lowerBound, count = range.count, ld = count * spatial
                let xg = channelMajor(px.baseAddress! + start * inChannels * spatial, count: count,
                                      channels: inChannels, spatial: spatial, scratch: gathered)
                BLAS.gemm(.transposed, .none, m: ld, n: rows, k: inChannels, a: xg, lda: ld,
                          b: pw.baseAddress!, ldb: rows, c: columns, ldc: rows, parallel: false)
                for n in range { for o in 0..<outChannels {
                    (py.baseAddress! + (n * outChannels + o) * planeSize).update(repeating: pb[o], count: planeSize)
                } }
                geometry.col2im(columns, count: count, addingInto: py.baseAddress! + start * imageSize, frame: frame)
            }
        } } } }

        return Tensor(shape: [images, outChannels, outputHeight, outputWidth], data: y,
                      inputs: [x, weight, bias]) { out in
            out.grad!.withUnsafeBufferPointer { g in
                if bias.requiresGrad {
                    bias.withGrad { db in accumulateBiasGradient(g, images: images, channels: outChannels,
                                                                 spatial: outputHeight * outputWidth, into: db) }
                }
                x.data.withUnsafeBufferPointer { px in weight.data.withUnsafeBufferPointer { pw in
                    blockedPullback(images: images, group: group, perWorker: columnsSize + inputSize + geometry.frameSize,
                                    x: x, weight: weight) { range, scratch, dw, dx in
                        let columns = scratch, gathered = columns + columnsSize, frame = gathered + inputSize
                        let start = range.lowerBound, count = range.count, ld = count * spatial
                        geometry.im2col(images: g.baseAddress! + start * imageSize, count: count, into: columns, frame: frame)
                        if let dw {
                            let xg = channelMajor(px.baseAddress! + start * inChannels * spatial, count: count,
                                                  channels: inChannels, spatial: spatial, scratch: gathered)
                            BLAS.gemm(.none, .none, m: inChannels, n: rows, k: ld, a: xg, lda: ld,
                                      b: columns, ldb: rows, c: dw, ldc: rows, parallel: false)
                        }
                        if let dx {
                            let dxStart = dx + start * inChannels * spatial
                            if count == 1 {
                                BLAS.gemm(.none, .transposed, m: inChannels, n: ld, k: rows, a: pw.baseAddress!,
                                          lda: rows, b: columns, ldb: rows, beta: 1, c: dxStart, ldc: ld, parallel: false)
                            } else {
                                BLAS.gemm(.none, .transposed, m: inChannels, n: ld, k: rows, a: pw.baseAddress!,
                                          lda: rows, b: columns, ldb: rows, c: gathered, ldc: ld, parallel: false)
                                scatterAddChannels(gathered, count: count, channels: inChannels, spatial: spatial,
                                                   into: dxStart)
                            }
                        }
                    }
                } }
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
            Parallel.forEachRange(planes, itemSize: height * width) { range in
                if size == 2 && !x.requiresGrad {
                    maxPool2x2(px.baseAddress!, into: py.baseAddress!, planes: range, height: height, width: width)
                    return
                }
                var i = range.lowerBound * outputHeight * outputWidth
                for plane in range { for oh in 0..<outputHeight { for ow in 0..<outputWidth {
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
            }
        } } }
        return Tensor(shape: [x.shape[0], x.shape[1], outputHeight, outputWidth], data: y, inputs: [x]) { out in
            out.grad!.withUnsafeBufferPointer { g in argmax.withUnsafeBufferPointer { pa in x.withGrad { dx in
                for i in 0..<outputCount { dx[Int(pa[i])] += g[i] }
            } } }
        }
    }

    /// 2 x 2 max pooling of `planes` without the argmax (inference: nothing to backpropagate), 8 windows at a time:
    /// the even and odd lanes of 16 floats of each of the two rows.
    private static func maxPool2x2(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, planes: Range<Int>,
                                   height: Int, width: Int) {
        let outputHeight = height / 2, outputWidth = width / 2
        for plane in planes { for oh in 0..<outputHeight {
            let top = x + (plane * height + 2 * oh) * width, bottom = top + width
            let out = y + (plane * outputHeight + oh) * outputWidth
            var ow = 0
            while ow + 8 <= outputWidth {
                let a = UnsafeRawPointer(top + 2 * ow).loadUnaligned(as: SIMD16<Float>.self)
                let b = UnsafeRawPointer(bottom + 2 * ow).loadUnaligned(as: SIMD16<Float>.self)
                // (a.replacing(with:where:), not pointwiseMax: the generic pointwiseMax is not specialised here.)
                func larger(_ u: SIMD8<Float>, _ v: SIMD8<Float>) -> SIMD8<Float> { u.replacing(with: v, where: v .> u) }
                let m = larger(larger(a.evenHalf, a.oddHalf), larger(b.evenHalf, b.oddHalf))
                UnsafeMutableRawPointer(out + ow).storeBytes(of: m, as: SIMD8<Float>.self)
                ow += 8
            }
            while ow < outputWidth {
                out[ow] = max(max(top[2 * ow], top[2 * ow + 1]), max(bottom[2 * ow], bottom[2 * ow + 1]))
                ow += 1
            }
        } }
    }
}
