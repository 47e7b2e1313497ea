/// A batch of images in channels-last layout for inference (no autodiff tape): `images` x `height` x `width`
/// positions, row-major, each position a run of `channels` floats; consecutive positions start `rowStride` floats
/// apart (>= channels), so a map can be a slice of channels of a wider one (a branch of an Inception block writing
/// straight into its part of the block's concatenated output).
///
/// In this layout a 1 x 1 convolution is one matrix product [positions, C] x [C, O], and a K x L window is K runs
/// of L*C consecutive floats when `rowStride == channels`.
struct FeatureMap {
    let base: UnsafeMutablePointer<Float>
    let images: Int, height: Int, width: Int, channels: Int
    let rowStride: Int

    init(base: UnsafeMutablePointer<Float>, images: Int, height: Int, width: Int, channels: Int, rowStride: Int? = nil) {
        precondition(images >= 0 && height >= 1 && width >= 1 && channels >= 1,
                     "FeatureMap: bad shape \(images) x \(height) x \(width) x \(channels)")
        self.base = base; self.images = images; self.height = height; self.width = width; self.channels = channels
        self.rowStride = rowStride ?? channels
        precondition(self.rowStride >= channels, "FeatureMap: row stride \(self.rowStride) < \(channels) channels")
    }

    /// Positions of the batch: images * height * width.
    var positions: Int { images * height * width }
    /// The channels `range` of every position, sharing this map's storage.
    func slice(_ range: Range<Int>) -> FeatureMap {
        precondition(range.lowerBound >= 0 && range.upperBound <= channels && !range.isEmpty,
                     "FeatureMap.slice: \(range) outside 0..<\(channels)")
        return FeatureMap(base: base + range.lowerBound, images: images, height: height, width: width,
                          channels: range.count, rowStride: rowStride)
    }
    /// The first float of position (image, row, column).
    @inline(__always)
    func at(_ image: Int, _ row: Int, _ column: Int) -> UnsafeMutablePointer<Float> {
        base + ((image &* height &+ row) &* width &+ column) &* rowStride
    }
}

/// The three pools of Inception-v3, over 3 x 3 windows, channel runs vectorised.
enum Pool3x3 {
    /// Output side of a 3 x 3 pool with `stride` and `padding`, floor mode: (side + 2 padding - 3) / stride + 1.
    static func outputSide(_ side: Int, stride: Int, padding: Int) -> Int { (side + 2 * padding - 3) / stride + 1 }

    /// y = max over the window, padding ignored (PyTorch pads max pools with -inf): `max_pool2d(x, 3, stride, padding)`.
    static func max(_ x: FeatureMap, stride: Int, padding: Int, into y: FeatureMap) {
        pool(x, stride: stride, padding: padding, into: y) { output, window, count, channels in
            output.update(from: window[0], count: channels)
            for w in 1..<count { let row = window[w]; for c in 0..<channels { output[c] = Swift.max(output[c], row[c]) } }
        }
    }

    /// y = the mean over the window's positions inside the image (`avg_pool2d(x, 3, 1, 1, count_include_pad=False)`,
    /// TensorFlow's average pool): the sum in window order, divided by the number of those positions.
    static func average(_ x: FeatureMap, stride: Int, padding: Int, into y: FeatureMap) {
        pool(x, stride: stride, padding: padding, into: y) { output, window, count, channels in
            output.update(from: window[0], count: channels)
            for w in 1..<count { let row = window[w]; for c in 0..<channels { output[c] += row[c] } }
            let divisor = Float(count)
            for c in 0..<channels { output[c] /= divisor }
        }
    }

    /// Calls `reduce(output, window, count, channels)` for every output position with the pointers to the
    /// channel runs of the window's positions that lie inside the image, in row-major window order.
    private static func pool(_ x: FeatureMap, stride: Int, padding: Int, into y: FeatureMap,
                             _ reduce: (UnsafeMutablePointer<Float>, UnsafePointer<UnsafePointer<Float>>, Int, Int) -> Void) {
        let ho = outputSide(x.height, stride: stride, padding: padding), wo = outputSide(x.width, stride: stride, padding: padding)
        precondition(y.images == x.images && y.height == ho && y.width == wo && y.channels == x.channels,
                     "Pool3x3: output \(y.images)x\(y.height)x\(y.width)x\(y.channels), want \(x.images)x\(ho)x\(wo)x\(x.channels)")
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 9) { window in
            let w = window.baseAddress!
            for n in 0..<x.images { for i in 0..<ho { for j in 0..<wo {
                var count = 0
                for a in 0..<3 {
                    let r = i * stride - padding + a
                    guard r >= 0 && r < x.height else { continue }
                    for b in 0..<3 {
                        let q = j * stride - padding + b
                        guard q >= 0 && q < x.width else { continue }
                        w[count] = UnsafePointer(x.at(n, r, q)); count += 1
                    }
                }
                reduce(y.at(n, i, j), UnsafePointer(w), count, x.channels)
            } } }
        }
    }
}

extension FeatureMap {
    /// y[image, c] = the mean of channel c over the image's positions (`AdaptiveAvgPool2d((1, 1))`), summed in
    /// position order; `y` holds `images` rows of `channels` floats.
    func globalAverage(into y: UnsafeMutablePointer<Float>) {
        let area = height * width, scale = Float(area)
        for n in 0..<images {
            let output = y + n * channels
            output.update(from: at(n, 0, 0), count: channels)
            for p in 1..<area { let row = base + (n * area + p) * rowStride; for c in 0..<channels { output[c] += row[c] } }
            for c in 0..<channels { output[c] /= scale }
        }
    }

    /// Copies the channels of `source` (same positions) into this map.
    func copy(from source: FeatureMap) {
        precondition(source.positions == positions && source.channels == channels, "FeatureMap.copy: shapes differ")
        for p in 0..<positions { (base + p * rowStride).update(from: source.base + p * source.rowStride, count: channels) }
    }
}
