import CPNG

// Constants from /usr/include/libpng16/png.h. They are macros (some with casts or arguments), which
// Swift does not import reliably, so they are spelled out here.

/// `PNG_IMAGE_VERSION`: the `png_image.version` this code was written against.
let pngImageVersion: png_uint_32 = 1
/// `PNG_FORMAT_FLAG_ALPHA`.
let pngFormatFlagAlpha: png_uint_32 = 0x01
/// `PNG_FORMAT_FLAG_COLOR`.
let pngFormatFlagColor: png_uint_32 = 0x02
/// `PNG_FORMAT_GRAY`: one 8-bit gray sample per pixel.
let pngFormatGray: png_uint_32 = 0
/// `PNG_FORMAT_RGB` (= `PNG_FORMAT_FLAG_COLOR`): 8-bit R, G, B.
let pngFormatRGB: png_uint_32 = 0x02
/// `PNG_FORMAT_RGBA` (= `PNG_FORMAT_RGB | PNG_FORMAT_FLAG_ALPHA`): 8-bit R, G, B, A (straight alpha).
let pngFormatRGBA: png_uint_32 = 0x03
/// `PNG_ZBUF_SIZE` from pnglibconf.h, used by `PNG_IMAGE_PNG_SIZE_MAX`.
let pngZBufSize = 8192

/// Owns one heap-allocated `png_image` control structure for the simplified libpng API.
///
/// The structure lives at a stable address for the object's whole life: libpng keeps a pointer to it
/// (as the error pointer of its internal `png_struct`) between `png_image_begin_read_*` and
/// `png_image_finish_read`, so a Swift stack variable passed with `&` would not be safe. `deinit` calls
/// `png_image_free`, which releases whatever libpng still holds (and closes a file opened by
/// `png_image_begin_read_from_file`); calling it after libpng already freed the data is harmless.
final class SimplifiedPNGImage {
    private let image: UnsafeMutablePointer<png_image>

    init() {
        image = .allocate(capacity: 1)
        image.initialize(to: png_image())   // all fields zero, opaque = NULL
        image.pointee.version = pngImageVersion
    }

    deinit {
        png_image_free(image)
        image.deinitialize(count: 1)
        image.deallocate()
    }

    /// Runs `body` with the control structure; `self` (and so the structure) stays alive meanwhile.
    func withPointer<Result>(_ body: (UnsafeMutablePointer<png_image>) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(self) { try body(image) }
    }

    var width: Int { Int(image.pointee.width) }
    var height: Int { Int(image.pointee.height) }

    /// `png_image.format`.
    var format: png_uint_32 {
        get { image.pointee.format }
        set { image.pointee.format = newValue }
    }

    /// libpng's last error or warning (`png_image.message`), or a fallback when it left none.
    var message: String {
        let text = withUnsafeBytes(of: image.pointee.message) { raw -> String in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count   // never read past the 64-byte field
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
        return text.isEmpty ? "unknown error" : text
    }
}
