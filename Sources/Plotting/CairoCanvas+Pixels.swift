import CCairo

extension CairoCanvas {
    /// The finished PNG-format canvas as 8-bit gray pixels, row-major, `Int(width.rounded(.up))` per row: each
    /// pixel's ITU-R 601 luminance (0.299 R + 0.587 G + 0.114 B, rounded) of cairo's premultiplied ARGB32, read as
    /// if composited on white (alpha 0 becomes 255). Only for canvases of format `.png` (an image surface).
    func grayPixels() throws -> [UInt8] {
        precondition(format == .png, "grayPixels: the canvas is \(format.rawValue), not an image surface")
        let status = cairo_status(context)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw PlottingError.cairo(operation: "draw the caption", status: String(cString: cairo_status_to_string(status)))
        }
        cairo_surface_flush(surface)
        let columns = Int(cairo_image_surface_get_width(surface)), rows = Int(cairo_image_surface_get_height(surface))
        let stride = Int(cairo_image_surface_get_stride(surface))
        guard let data = cairo_image_surface_get_data(surface) else {
            throw PlottingError.cairo(operation: "read the caption's pixels", status: "no image data")
        }
        var gray = [UInt8](repeating: 255, count: columns * rows)
        data.withMemoryRebound(to: UInt32.self, capacity: rows * stride / 4) { words in
            for y in 0..<rows {
                for x in 0..<columns {
                    let argb = words[y * stride / 4 + x]   // native-endian 0xAARRGGBB, colour premultiplied by alpha
                    let a = Double(argb >> 24), r = Double((argb >> 16) & 0xFF), g = Double((argb >> 8) & 0xFF), b = Double(argb & 0xFF)
                    let luminance = 0.299 * r + 0.587 * g + 0.114 * b + (255 - a)   // over white
                    gray[y * columns + x] = UInt8(max(0, min(255, luminance.rounded())))
                }
            }
        }
        return gray
    }
}
