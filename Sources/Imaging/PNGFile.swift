import CPNG
import Foundation
import Storage

/// Encodes, decodes, reads and writes 8-bit PNG files with libpng's simplified API (`png_image_*`).
///
/// Only the simplified API is used: it reports errors through `png_image.message` and return codes,
/// never by `longjmp` through Swift frames.
public enum PNGFile {
    /// Largest decoded image accepted, in bytes (`width * height * channels`); guards against corrupt
    /// headers that claim enormous sizes.
    public static let maximumDecodedBytes = 1 << 30

    /// The `tEXt` keyword of the checkpoint SHA-256 in the toolkit's sample sheets.
    public static let checkpointKey = "checkpoint_sha256"

    /// The checkpoint SHA-256 recorded in the PNG file at `path`, nil if it records none or cannot be read.
    public static func recordedCheckpoint(ofFileAt path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return PNGText.entries(in: [UInt8](data))[checkpointKey]
    }

    /// The 8-byte signature every PNG file begins with: 89 50 4E 47 0D 0A 1A 0A.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The PNG encoding of `image`: an 8-bit gray, RGB or RGBA PNG according to `image.channels`.
    ///
    /// - Throws: `ImagingError.invalidImage` if the image's fields disagree (e.g. after mutation) or it
    ///   is empty; `ImagingError.encodeFailed` if libpng fails.
    public static func encode(_ image: PixelImage) throws -> [UInt8] {
        try encode(image, destination: "<memory>")
    }

    /// Encodes `image` (see `encode(_:)`) and writes it to `path` atomically: the file under `path` is
    /// either the previous one or the complete new PNG, never a truncated one. `text` goes into `tEXt` chunks
    /// (`PNGText`), e.g. the SHA-256 of the checkpoint a sample sheet was drawn from.
    ///
    /// - Throws: `ImagingError.file` if the file cannot be written (e.g. the folder does not exist),
    ///   or the errors of `encode(_:)`.
    public static func write(_ image: PixelImage, to path: String, text: [String: String] = [:]) throws {
        var bytes = try encode(image, destination: path)
        if !text.isEmpty, let tagged = PNGText.inserting(text, into: bytes) { bytes = tagged }
        do {
            try bytes.withUnsafeBytes { try AtomicFile.write(bytes: $0, to: path) }
        } catch let error as FileError {
            throw ImagingError.file(error)
        }
    }

    /// Decodes PNG data, keeping the file's colour layout: gray files give 1 channel, RGB files 3,
    /// files with alpha (RGBA, gray+alpha, palette with transparency) 4. 16-bit files are reduced to
    /// 8 bits; palette files are expanded.
    ///
    /// - Parameter source: names the data in error messages (e.g. a file name or URL).
    /// - Throws: `ImagingError.decodeFailed` for data that is not a (complete, valid) PNG;
    ///   `ImagingError.imageTooLarge` if the header declares more than `maximumDecodedBytes`.
    public static func decode(_ bytes: [UInt8], source: String) throws -> PixelImage {
        // libpng reads from `bytes` during both begin and finish, so both happen inside this closure.
        try bytes.withUnsafeBytes { raw in
            try decode(source: source) { image in
                png_image_begin_read_from_memory(image, raw.baseAddress, raw.count)
            }
        }
    }

    /// Reads and decodes the PNG file at `path` (see `decode(_:source:)`).
    ///
    /// - Throws: `ImagingError.decodeFailed` if the file cannot be opened (libpng's message is the
    ///   system error, e.g. "No such file or directory") or is not a valid PNG.
    public static func read(contentsOf path: String) throws -> PixelImage {
        try decode(source: path) { image in
            png_image_begin_read_from_file(image, path)
        }
    }

    // MARK: - Implementation

    static func encode(_ image: PixelImage, destination: String) throws -> [UInt8] {
        let format: png_uint_32
        switch image.channels {
        case 1: format = pngFormatGray
        case 3: format = pngFormatRGB
        case 4: format = pngFormatRGBA
        default:
            throw ImagingError.invalidImage(destination: destination,
                                            reason: "channels must be 1, 3 or 4, got \(image.channels)")
        }
        guard image.width > 0, image.height > 0 else {
            throw ImagingError.invalidImage(destination: destination,
                                            reason: "PNG needs at least 1x1 pixels, got \(image.width)x\(image.height)")
        }
        let (rowStride, strideOverflow) = image.width.multipliedReportingOverflow(by: image.channels)
        let (sampleCount, countOverflow) = rowStride.multipliedReportingOverflow(by: image.height)
        guard !strideOverflow, !countOverflow, rowStride <= Int(Int32.max),
              image.width <= Int(Int32.max), image.height <= Int(Int32.max) else {
            throw ImagingError.invalidImage(destination: destination,
                                            reason: "\(image.width)x\(image.height) is too large for PNG")
        }
        guard image.pixels.count == sampleCount else {
            throw ImagingError.invalidImage(
                destination: destination,
                reason: "\(image.width)x\(image.height)x\(image.channels) needs \(sampleCount) samples, has \(image.pixels.count)")
        }

        // Upper bound on the PNG size, as PNG_IMAGE_PNG_SIZE_MAX in png.h (no colour map):
        // signature + IHDR + gAMA + cHRM + IEND + the first IDAT header, 12 more bytes per further IDAT
        // chunk, and zlib's worst case (PNG_ZLIB_MAX_SIZE) of the filtered data (one filter byte per row).
        let filtered = sampleCount + image.height
        let compressed = filtered + (filtered + 7) / 8 + (filtered + 63) / 64 + 11
        var capacity = 8 + 25 + 16 + 44 + 12 + 12 + 12 * (compressed / pngZBufSize) + compressed
        for _ in 0..<2 {
            let control = SimplifiedPNGImage()
            var output = [UInt8](repeating: 0, count: capacity)
            var size = png_alloc_size_t(capacity)
            let ok = control.withPointer { png -> Int32 in
                png.pointee.width = png_uint_32(image.width)
                png.pointee.height = png_uint_32(image.height)
                png.pointee.format = format
                return output.withUnsafeMutableBytes { out in
                    image.pixels.withUnsafeBytes { pixels in
                        png_image_write_to_memory(png, out.baseAddress, &size, 0,
                                                  pixels.baseAddress, Int32(rowStride), nil)
                    }
                }
            }
            if ok != 0 {
                output.removeSubrange(Int(size)...)
                return output
            }
            // On failure libpng leaves `size` alone for a real error, or raises it to the size needed if
            // only the buffer was too small (which the bound above should rule out): retry once then.
            guard Int(size) > capacity else {
                throw ImagingError.encodeFailed(destination: destination, message: control.message)
            }
            capacity = Int(size)
        }
        throw ImagingError.encodeFailed(destination: destination, message: "output buffer too small")
    }

    /// Shared read path: `begin` calls one of the `png_image_begin_read_*` functions.
    private static func decode(
        source: String, begin: (UnsafeMutablePointer<png_image>) -> Int32
    ) throws -> PixelImage {
        let control = SimplifiedPNGImage()
        guard control.withPointer(begin) != 0 else {
            throw ImagingError.decodeFailed(source: source, message: control.message)
        }
        let fileFormat = control.format
        let channels: Int
        let format: png_uint_32
        if fileFormat & pngFormatFlagAlpha != 0 {
            (channels, format) = (4, pngFormatRGBA)     // RGBA, gray+alpha, palette with tRNS
        } else if fileFormat & pngFormatFlagColor != 0 {
            (channels, format) = (3, pngFormatRGB)      // RGB, palette
        } else {
            (channels, format) = (1, pngFormatGray)
        }
        let width = control.width, height = control.height
        let (rowStride, o1) = width.multipliedReportingOverflow(by: channels)
        let (byteCount, o2) = rowStride.multipliedReportingOverflow(by: height)
        guard !o1, !o2, byteCount <= maximumDecodedBytes, rowStride <= Int(Int32.max) else {
            throw ImagingError.imageTooLarge(source: source, width: width, height: height)
        }
        control.format = format   // request 8-bit samples in this layout; drops the colour-map flag
        var pixels = [UInt8](repeating: 0, count: byteCount)
        let ok = control.withPointer { png in
            pixels.withUnsafeMutableBytes { buffer in
                png_image_finish_read(png, nil, buffer.baseAddress, Int32(rowStride), nil)
            }
        }
        guard ok != 0 else {
            throw ImagingError.decodeFailed(source: source, message: control.message)
        }
        return PixelImage(width: width, height: height, channels: channels, pixels: pixels)
    }
}
