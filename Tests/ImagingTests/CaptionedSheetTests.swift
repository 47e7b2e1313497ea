import Imaging
import Plotting
import Testing

/// Captions drawn around a sheet with cairo: the bands add to the sheet's size, the grid's bytes are kept, and each
/// band holds drawn text (dark pixels) exactly where there is a caption.
@Suite struct CaptionedSheetTests {
    static let grid = ImageGrid(rows: 3, columns: 4, scale: 2)
    static let sheet = grid.render(tiles: (0..<(12 * 784)).map { Float($0 % 784) / 784 })

    /// The darkest pixel of the rectangle.
    static func darkest(_ image: PixelImage, x: Range<Int>, y: Range<Int>) -> UInt8 {
        var minimum: UInt8 = 255
        for row in y { for column in x { minimum = min(minimum, image[x: column, y: row]) } }
        return minimum
    }

    @Test func theBandsAddToTheSheetAndTheGridKeepsItsBytes() throws {
        let captions = SheetCaptions(title: ["run", "what it shows"], rowLabels: ["first row", "second", "third"],
                                     columnLabels: [.init(column: 0, text: "a"), .init(column: 3, text: "b")])
        let layout = try CaptionedSheet.layout(grid: Self.grid, captions: captions)
        #expect(layout.titleHeight > 0 && layout.columnLabelHeight > 0 && layout.rowLabelWidth > 0)
        let image = try CaptionedSheet.render(Self.sheet, grid: Self.grid, captions: captions)
        #expect(image.channels == 1)
        #expect(image.width == layout.rowLabelWidth + Self.grid.width && image.height == layout.titleHeight + layout.columnLabelHeight + Self.grid.height)
        #expect(layout.gridY == layout.titleHeight + layout.columnLabelHeight && layout.gridX == layout.rowLabelWidth)
        for y in 0..<Self.sheet.height {
            for x in stride(from: 0, to: Self.sheet.width, by: 7) {
                #expect(image[x: layout.gridX + x, y: layout.gridY + y] == Self.sheet[x: x, y: y])
            }
        }
        // Text in the title band, the column-label band and beside every row; white where nothing is written
        // (the row-label band's corner above the first row).
        #expect(Self.darkest(image, x: 0..<image.width, y: 0..<layout.titleHeight) < 128)
        #expect(Self.darkest(image, x: layout.gridX..<image.width, y: layout.titleHeight..<layout.gridY) < 128)
        let rowHeight = Self.grid.height / Self.grid.rows
        for row in 0..<Self.grid.rows {
            let top = layout.gridY + row * rowHeight
            #expect(Self.darkest(image, x: 0..<layout.rowLabelWidth, y: top..<(top + rowHeight)) < 128, "row \(row)")
        }
        #expect(Self.darkest(image, x: 0..<layout.rowLabelWidth, y: layout.titleHeight..<layout.gridY) == 255)
    }

    @Test func longerLabelsWidenTheBandAndNoCaptionsChangeNothing() throws {
        let short = try CaptionedSheet.layout(grid: Self.grid, captions: SheetCaptions(rowLabels: ["a", "b", "c"]))
        let long = try CaptionedSheet.layout(grid: Self.grid, captions: SheetCaptions(rowLabels: ["a", "a much longer label", "c"]))
        #expect(long.rowLabelWidth > short.rowLabelWidth && short.titleHeight == 0 && short.columnLabelHeight == 0)
        // Larger scale, larger text.
        let small = try CaptionedSheet.layout(grid: ImageGrid(rows: 3, columns: 4, scale: 1), captions: SheetCaptions(title: ["t"]))
        let large = try CaptionedSheet.layout(grid: ImageGrid(rows: 3, columns: 4, scale: 3), captions: SheetCaptions(title: ["t"]))
        #expect(large.titleHeight > 2 * small.titleHeight)
        // A title wider than the sheet widens the picture.
        let wide = try CaptionedSheet.layout(grid: ImageGrid(rows: 1, columns: 1), captions: SheetCaptions(title: [String(repeating: "wide ", count: 20)]))
        #expect(wide.width > ImageGrid(rows: 1, columns: 1).width)
        #expect(try CaptionedSheet.render(Self.sheet, grid: Self.grid, captions: SheetCaptions()) == Self.sheet)
    }
}
