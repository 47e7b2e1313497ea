import Imaging

/// Text drawn around a sheet of tiles (an `ImageGrid`'s picture) so that the picture says what it shows.
public struct SheetCaptions: Equatable {
    /// A label above one column of the grid, centred on it.
    public struct ColumnLabel: Equatable {
        public var column: Int
        public var text: String
        public init(column: Int, text: String) { self.column = column; self.text = text }
    }

    /// Lines above everything (the run, what the sheet shows, the sampler); empty for no title band.
    public var title: [String]
    /// One label per grid row, right-aligned in a band left of the grid, centred on its row; empty for no band.
    public var rowLabels: [String]
    /// Labels above chosen columns, in a band between the title and the grid; empty for no band.
    public var columnLabels: [ColumnLabel]

    public init(title: [String] = [], rowLabels: [String] = [], columnLabels: [ColumnLabel] = []) {
        self.title = title
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
    }
}

/// Where the bands of a captioned sheet go, in output pixels: the title band on top (full width), the column-label
/// band below it and the row-label band left of the grid; the grid's picture sits at (`gridX`, `gridY`) unchanged.
///
///     width  = max(rowLabelWidth + grid.width, widest title line + 2 * padding)
///     height = titleHeight + columnLabelHeight + grid.height
public struct SheetCaptionLayout: Equatable {
    public var titleHeight: Int
    public var columnLabelHeight: Int
    public var rowLabelWidth: Int
    public var width: Int
    public var height: Int
    public var gridX: Int { rowLabelWidth }
    public var gridY: Int { titleHeight + columnLabelHeight }
}

/// Draws `SheetCaptions` around a gray sheet with cairo (DejaVu Sans, dark gray on white) and returns one gray
/// `PixelImage`, whose grid pixels are the sheet's own, byte for byte. Text sizes follow the grid's scale: 11 px per
/// unit of scale for labels, 12 px bold for the title, with 4 px of padding per unit of scale.
public enum CaptionedSheet {
    static func styles(scale: Int) -> (title: TextStyle, label: TextStyle, padding: Double) {
        let s = Double(scale)
        return (TextStyle(size: 12 * s, bold: true), TextStyle(size: 11 * s), 4 * s)
    }

    /// The band sizes `render` uses for `grid` with `captions`.
    public static func layout(grid: ImageGrid, captions: SheetCaptions) throws -> SheetCaptionLayout {
        try CairoCanvas.exclusively { try layout(grid: grid, captions: captions, canvas: CairoCanvas.measuring()) }
    }

    static func layout(grid: ImageGrid, captions: SheetCaptions, canvas: CairoCanvas) -> SheetCaptionLayout {
        precondition(captions.rowLabels.isEmpty || captions.rowLabels.count == grid.rows,
                     "CaptionedSheet: \(captions.rowLabels.count) row labels for \(grid.rows) rows")
        precondition(captions.columnLabels.allSatisfy { (0..<grid.columns).contains($0.column) },
                     "CaptionedSheet: column labels \(captions.columnLabels.map(\.column)) outside 0..<\(grid.columns)")
        let (titleStyle, labelStyle, padding) = styles(scale: grid.scale)
        func up(_ value: Double) -> Int { Int(value.rounded(.up)) }
        let titleHeight = captions.title.isEmpty ? 0
            : up(Double(captions.title.count) * canvas.lineHeight(titleStyle) + 2 * padding)
        let columnLabelHeight = captions.columnLabels.isEmpty ? 0 : up(canvas.lineHeight(labelStyle) + padding)
        let rowLabelWidth = captions.rowLabels.isEmpty ? 0
            : up((captions.rowLabels.map { canvas.textWidth($0, style: labelStyle) }.max() ?? 0) + 2 * padding)
        let widestTitle = captions.title.map { canvas.textWidth($0, style: titleStyle) }.max() ?? 0
        return SheetCaptionLayout(titleHeight: titleHeight, columnLabelHeight: columnLabelHeight, rowLabelWidth: rowLabelWidth,
                                  width: max(rowLabelWidth + grid.width, up(widestTitle + 2 * padding)),
                                  height: titleHeight + columnLabelHeight + grid.height)
    }

    /// `sheet` (gray, `grid.width` x `grid.height`, as `grid.render` made it) with `captions` drawn around it.
    ///
    /// - Throws: `PlottingError.cairo` if cairo fails.
    public static func render(_ sheet: PixelImage, grid: ImageGrid, captions: SheetCaptions) throws -> PixelImage {
        precondition(sheet.channels == 1 && sheet.width == grid.width && sheet.height == grid.height,
                     "CaptionedSheet: sheet \(sheet.width)x\(sheet.height)x\(sheet.channels), grid \(grid.width)x\(grid.height) gray")
        if captions == SheetCaptions() { return sheet }
        return try CairoCanvas.exclusively {
            let layout = layout(grid: grid, captions: captions, canvas: try CairoCanvas.measuring())
            let canvas = try CairoCanvas(format: .png, width: Double(layout.width), height: Double(layout.height))
            canvas.fillBackground(.white)
            let (titleStyle, labelStyle, padding) = styles(scale: grid.scale)
            let titleLine = canvas.lineHeight(titleStyle)
            for (index, line) in captions.title.enumerated() {
                canvas.drawText(line, x: padding, centerY: padding + (Double(index) + 0.5) * titleLine,
                                alignment: .left, style: titleStyle)
            }
            let tileWidth = Double(grid.tileWidth * grid.scale), tileHeight = Double(grid.tileHeight * grid.scale)
            for label in captions.columnLabels {
                let x = Double(layout.gridX + grid.origin(ofTile: label.column).x) + tileWidth / 2
                canvas.drawText(label.text, x: x, centerY: Double(layout.titleHeight) + Double(layout.columnLabelHeight) / 2,
                                alignment: .center, style: labelStyle)
            }
            for (row, text) in captions.rowLabels.enumerated() {
                let y = Double(layout.gridY + grid.origin(ofTile: row * grid.columns).y) + tileHeight / 2
                canvas.drawText(text, x: Double(layout.rowLabelWidth) - padding, centerY: y, alignment: .right, style: labelStyle)
            }
            var pixels = try canvas.grayPixels()
            for y in 0..<sheet.height {
                let target = (layout.gridY + y) * layout.width + layout.gridX
                pixels.replaceSubrange(target..<(target + sheet.width), with: sheet.pixels[(y * sheet.width)..<((y + 1) * sheet.width)])
            }
            return PixelImage(width: layout.width, height: layout.height, channels: 1, pixels: pixels)
        }
    }
}
