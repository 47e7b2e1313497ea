/// An 8-bit image, row-major, `channels` = 1 (gray) or 3 (RGB) or 4 (RGBA).
///
/// Shape: `pixels.count == height * width * channels`; the sample for column `x`, row `y` and channel `c`
/// is `pixels[(y * width + x) * channels + c]` (row 0 is the top row, channels interleaved).
public struct PixelImage: Equatable {
    /// Number of columns.
    public var width: Int
    /// Number of rows.
    public var height: Int
    /// Samples per pixel: 1 (gray), 3 (RGB) or 4 (RGBA, straight alpha).
    public var channels: Int
    /// `height * width * channels` samples, row-major, channels interleaved.
    public var pixels: [UInt8]

    /// The channel counts a `PixelImage` may have.
    public static let supportedChannelCounts: Set<Int> = [1, 3, 4]

    /// Creates an image from row-major interleaved samples.
    ///
    /// - Precondition: `width >= 0`, `height >= 0`, `channels` is 1, 3 or 4 and
    ///   `pixels.count == width * height * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "PixelImage: negative size \(width)x\(height)")
        precondition(Self.supportedChannelCounts.contains(channels),
                     "PixelImage: channels must be 1, 3 or 4, got \(channels)")
        precondition(pixels.count == width * height * channels,
                     "PixelImage: \(width)x\(height)x\(channels) needs \(width * height * channels) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// Creates a `width` x `height` image whose every sample is `fill`.
    ///
    /// - Precondition: `width >= 0`, `height >= 0`, `channels` is 1, 3 or 4.
    public init(width: Int, height: Int, channels: Int = 1, fill: UInt8 = 0) {
        precondition(width >= 0 && height >= 0, "PixelImage: negative size \(width)x\(height)")
        self.init(width: width, height: height, channels: channels,
                  pixels: [UInt8](repeating: fill, count: width * height * channels))
    }

    /// The sample at column `x`, row `y`, channel `channel` (0-based; row 0 is the top).
    public subscript(x x: Int, y y: Int, channel channel: Int = 0) -> UInt8 {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height && channel >= 0 && channel < channels,
                         "PixelImage: (\(x), \(y), \(channel)) outside \(width)x\(height)x\(channels)")
            return pixels[(y * width + x) * channels + channel]
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height && channel >= 0 && channel < channels,
                         "PixelImage: (\(x), \(y), \(channel)) outside \(width)x\(height)x\(channels)")
            pixels[(y * width + x) * channels + channel] = newValue
        }
    }

    /// A gray image from `width * height` values in [0, 1], row-major (e.g. one 28x28 MNIST digit).
    ///
    /// Each value is clamped to [0, 1] and mapped to `UInt8((v * 255).rounded())`; NaN maps to 0.
    /// - Precondition: `values.count == width * height`.
    public static func fromUnitFloats(_ values: [Float], width: Int, height: Int) -> PixelImage {
        precondition(width >= 0 && height >= 0 && values.count == width * height,
                     "fromUnitFloats: \(width)x\(height) needs \(width * height) values, got \(values.count)")
        return PixelImage(width: width, height: height, channels: 1, pixels: values.map(byte(fromUnit:)))
    }

    /// Maps a value in [0, 1] to a byte: clamped, times 255, rounded half away from zero; NaN gives 0.
    @inline(__always)
    static func byte(fromUnit value: Float) -> UInt8 {
        guard value > 0 else { return 0 }          // also catches NaN
        guard value < 1 else { return 255 }
        return UInt8((value * 255).rounded())
    }
}
