import CCairo
import Foundation

/// An sRGB colour with components in 0...1.
struct Color {
    var red: Double
    var green: Double
    var blue: Double

    init(hex: UInt32) {
        red = Double((hex >> 16) & 0xFF) / 255
        green = Double((hex >> 8) & 0xFF) / 255
        blue = Double(hex & 0xFF) / 255
    }

    static let white = Color(hex: 0xFFFFFF)
    static let text = Color(hex: 0x222222)
    static let secondaryText = Color(hex: 0x555555)
    static let axis = Color(hex: 0x444444)
    static let grid = Color(hex: 0xE6E6E6)
    static let frame = Color(hex: 0xBBBBBB)

    /// The Okabe-Ito palette (colour-blind safe), ordered for line plots: the light yellow and black come last.
    static let okabeIto: [Color] = [
        Color(hex: 0x0072B2), Color(hex: 0xE69F00), Color(hex: 0x009E73), Color(hex: 0xD55E00),
        Color(hex: 0xCC79A7), Color(hex: 0x56B4E9), Color(hex: 0xC9B700), Color(hex: 0x000000),
    ]
}

/// A font size and weight; the face is always DejaVu Sans.
struct TextStyle {
    var size: Double
    var bold = false

    static let title = TextStyle(size: 16, bold: true)
    static let subtitle = TextStyle(size: 12.5)
    static let axisLabel = TextStyle(size: 13)
    static let tickLabel = TextStyle(size: 11.5)
    static let pointLabel = TextStyle(size: 11.5)
    static let legend = TextStyle(size: 12)
    static let note = TextStyle(size: 13)
}

/// Horizontal alignment of text relative to its anchor point.
enum HorizontalAlignment { case left, center, right }

/// Collects the bytes cairo writes through a stream callback.
private final class ByteSink {
    var bytes: [UInt8] = []
}

/// Stream callback for cairo: appends to the `ByteSink` passed (unretained) as the closure pointer.
private let appendToSink: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, UInt32)
    -> cairo_status_t = { closure, data, length in
        guard let closure else { return CAIRO_STATUS_WRITE_ERROR }
        let sink = Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue()
        if let data, length > 0 {
            sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
        }
        return CAIRO_STATUS_SUCCESS
    }

/// Owns a cairo surface and drawing context (destroyed in `deinit`) that render into memory.
///
/// Vector surfaces stream their output into a `ByteSink` owned by the canvas, which therefore outlives
/// the surface. PNG output is produced from the image surface by `finish()`.
final class CairoCanvas {
    let format: PlotFormat
    let width: Double
    let height: Double
    /// The `cairo_t *`.
    let context: OpaquePointer
    /// The `cairo_surface_t *`.
    let surface: OpaquePointer
    private let sink = ByteSink()

    /// A canvas of `width` x `height` drawing units producing `format`, with a white background.
    init(format: PlotFormat, width: Double, height: Double, title: String = "") throws {
        self.format = format
        self.width = width
        self.height = height
        let closure = Unmanaged.passUnretained(sink).toOpaque()
        let created: OpaquePointer?
        switch format {
        case .png:
            created = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width.rounded(.up)),
                                                 Int32(height.rounded(.up)))
        case .svg:
            created = cairo_svg_surface_create_for_stream(appendToSink, closure, width, height)
            if let created { cairo_svg_surface_set_document_unit(created, CAIRO_SVG_UNIT_PX) }
        case .pdf:
            created = cairo_pdf_surface_create_for_stream(appendToSink, closure, width, height)
            if let created {
                cairo_pdf_surface_set_metadata(created, CAIRO_PDF_METADATA_TITLE, title)
                cairo_pdf_surface_set_metadata(created, CAIRO_PDF_METADATA_CREATOR, "VAEToolkit Plotting")
            }
        }
        guard let surface = created else {
            throw PlottingError.cairo(operation: "create a \(format.rawValue) surface", status: "out of memory")
        }
        let status = cairo_surface_status(surface)
        guard status == CAIRO_STATUS_SUCCESS else {
            cairo_surface_destroy(surface)
            throw PlottingError.cairo(operation: "create a \(format.rawValue) surface",
                                      status: Self.describe(status))
        }
        self.surface = surface
        context = cairo_create(surface)
        // Unhinted metrics: text measures the same on every surface, so layouts agree across formats.
        let options = cairo_font_options_create()
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
        cairo_set_font_options(context, options)
        cairo_font_options_destroy(options)
        cairo_set_line_join(context, CAIRO_LINE_JOIN_ROUND)
    }

    /// Cairo's toy-font caches are process-wide: text drawn while another thread renders can come out
    /// differently. Every public entry point that touches cairo runs under this lock (not re-entrant:
    /// take it only at the public surface).
    static let renderLock = NSLock()

    static func exclusively<T>(_ body: () throws -> T) rethrows -> T {
        renderLock.lock()
        defer { renderLock.unlock() }
        return try body()
    }

    /// A small canvas used only to measure text.
    static func measuring() throws -> CairoCanvas {
        try CairoCanvas(format: .png, width: 1, height: 1)
    }

    deinit {
        cairo_destroy(context)
        cairo_surface_destroy(surface)
    }

    private static func describe(_ status: cairo_status_t) -> String {
        String(cString: cairo_status_to_string(status))
    }

    /// Finishes drawing and returns the encoded file.
    func finish() throws -> [UInt8] {
        let drawingStatus = cairo_status(context)
        guard drawingStatus == CAIRO_STATUS_SUCCESS else {
            throw PlottingError.cairo(operation: "draw the plot", status: Self.describe(drawingStatus))
        }
        switch format {
        case .png:
            cairo_surface_flush(surface)
            let closure = Unmanaged.passUnretained(sink).toOpaque()
            let status = cairo_surface_write_to_png_stream(surface, appendToSink, closure)
            guard status == CAIRO_STATUS_SUCCESS else {
                throw PlottingError.cairo(operation: "encode the PNG", status: Self.describe(status))
            }
        case .svg, .pdf:
            cairo_surface_finish(surface)
            let status = cairo_surface_status(surface)
            guard status == CAIRO_STATUS_SUCCESS else {
                throw PlottingError.cairo(operation: "write the \(format.rawValue.uppercased())",
                                          status: Self.describe(status))
            }
        }
        return sink.bytes
    }

    // MARK: Colours and lines

    func setColor(_ color: Color, alpha: Double = 1) {
        cairo_set_source_rgba(context, color.red, color.green, color.blue, alpha)
    }

    func setLine(width: Double, dash: [Double] = []) {
        cairo_set_line_width(context, width)
        dash.withUnsafeBufferPointer { cairo_set_dash(context, $0.baseAddress, Int32($0.count), 0) }
    }

    func fillBackground(_ color: Color) {
        setColor(color)
        cairo_paint(context)
    }

    func line(from start: (x: Double, y: Double), to end: (x: Double, y: Double)) {
        cairo_move_to(context, start.x, start.y)
        cairo_line_to(context, end.x, end.y)
        cairo_stroke(context)
    }

    func rectangle(_ rect: PlotRect) {
        cairo_rectangle(context, rect.x, rect.y, rect.width, rect.height)
    }

    func roundedRectangle(_ rect: PlotRect, radius: Double) {
        let r = min(radius, rect.width / 2, rect.height / 2)
        cairo_new_sub_path(context)
        cairo_arc(context, rect.maxX - r, rect.y + r, r, -Double.pi / 2, 0)
        cairo_arc(context, rect.maxX - r, rect.maxY - r, r, 0, Double.pi / 2)
        cairo_arc(context, rect.x + r, rect.maxY - r, r, Double.pi / 2, Double.pi)
        cairo_arc(context, rect.x + r, rect.y + r, r, Double.pi, 3 * Double.pi / 2)
        cairo_close_path(context)
    }

    func circle(x: Double, y: Double, radius: Double) {
        cairo_new_sub_path(context)
        cairo_arc(context, x, y, radius, 0, 2 * Double.pi)
    }

    func move(to point: (x: Double, y: Double)) { cairo_move_to(context, point.x, point.y) }
    func addLine(to point: (x: Double, y: Double)) { cairo_line_to(context, point.x, point.y) }

    func fill() { cairo_fill(context) }
    func fillPreserve() { cairo_fill_preserve(context) }
    func stroke() { cairo_stroke(context) }

    func clip(to rect: PlotRect) {
        rectangle(rect)
        cairo_clip(context)
    }

    func resetClip() { cairo_reset_clip(context) }

    // MARK: Text

    func setFont(_ style: TextStyle) {
        cairo_select_font_face(context, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                               style.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(context, style.size)
    }

    /// The advance width of `text` in `style`.
    func textWidth(_ text: String, style: TextStyle) -> Double {
        setFont(style)
        var extents = cairo_text_extents_t()
        cairo_text_extents(context, text, &extents)
        return extents.x_advance
    }

    /// The font's ascent and descent in `style`: a line of text spans `ascent + descent` vertically.
    func lineMetrics(_ style: TextStyle) -> (ascent: Double, descent: Double) {
        setFont(style)
        var extents = cairo_font_extents_t()
        cairo_font_extents(context, &extents)
        return (extents.ascent, extents.descent)
    }

    /// The height of one line of text in `style`.
    func lineHeight(_ style: TextStyle) -> Double {
        let metrics = lineMetrics(style)
        return metrics.ascent + metrics.descent
    }

    /// Draws `text` horizontally aligned to `x` and vertically centred on `centerY` (the line box, ascent to
    /// descent, is centred).
    func drawText(_ text: String, x: Double, centerY: Double, alignment: HorizontalAlignment,
                  style: TextStyle, color: Color = .text) {
        let width = textWidth(text, style: style)
        let metrics = lineMetrics(style)
        let left: Double
        switch alignment {
        case .left: left = x
        case .center: left = x - width / 2
        case .right: left = x - width
        }
        setColor(color)
        cairo_move_to(context, left, centerY + (metrics.ascent - metrics.descent) / 2)
        cairo_show_text(context, text)
        cairo_new_path(context)
    }

    /// Draws `text` rotated a quarter turn anticlockwise (reading bottom to top), centred on the point.
    func drawVerticalText(_ text: String, centerX: Double, centerY: Double, style: TextStyle,
                          color: Color = .text) {
        cairo_save(context)
        cairo_translate(context, centerX, centerY)
        cairo_rotate(context, -Double.pi / 2)
        drawText(text, x: 0, centerY: 0, alignment: .center, style: style, color: color)
        cairo_restore(context)
    }
}

/// Inserts `<title>` and `<desc>` elements after the root `<svg>` tag of cairo's SVG output, so the plot's
/// title and data are available as text (cairo draws all text as glyph outlines).
func annotateSVG(_ bytes: [UInt8], title: String, description: String) -> [UInt8] {
    guard let root = firstRange(of: Array("<svg".utf8), in: bytes),
          let close = bytes[root.upperBound...].firstIndex(of: UInt8(ascii: ">")) else { return bytes }
    let insert = "\n<title>\(escapeXML(title))</title>\n<desc>\(escapeXML(description))</desc>"
    var result = bytes
    result.insert(contentsOf: Array(insert.utf8), at: close + 1)
    return result
}

private func firstRange(of needle: [UInt8], in bytes: [UInt8]) -> Range<Int>? {
    guard bytes.count >= needle.count else { return nil }
    for start in 0...(bytes.count - needle.count) where bytes[start..<(start + needle.count)].elementsEqual(needle) {
        return start..<(start + needle.count)
    }
    return nil
}

/// `text` with the five XML special characters escaped.
func escapeXML(_ text: String) -> String {
    var result = ""
    for character in text {
        switch character {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\"": result += "&quot;"
        case "'": result += "&apos;"
        default: result.append(character)
        }
    }
    return result
}
