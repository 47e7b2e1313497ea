/// Lays out equally sized grayscale tiles (e.g. 28x28 MNIST digits, `Float` values in [0, 1],
/// row-major) as a grid, with separator lines between tiles and a border of the same width around them.
///
/// Geometry (all in output pixels; `scale` applies to the whole picture, separators included):
///
///     width  = scale * (columns * tileWidth  + (columns + 1) * separator)
///     height = scale * (rows    * tileHeight + (rows    + 1) * separator)
///
/// Tile `t` (0-based, filled row by row: `row = t / columns`, `column = t % columns`) has its top-left
/// pixel at `x = scale * (separator + column * (tileWidth + separator))`,
/// `y = scale * (separator + row * (tileHeight + separator))`. The rendered image is exactly the
/// `scale == 1` rendering with every pixel repeated as a `scale` x `scale` block (nearest neighbour),
/// so separators are `scale * separator` pixels thick.
public struct ImageGrid {
    /// Number of tile rows.
    public let rows: Int
    /// Number of tiles per row.
    public let columns: Int
    /// Width of one tile in input pixels.
    public let tileWidth: Int
    /// Height of one tile in input pixels.
    public let tileHeight: Int
    /// Thickness of the separator lines and the border, in unscaled pixels (0 for none).
    public let separator: Int
    /// Gray value of separator and border pixels.
    public let separatorValue: UInt8
    /// Each unscaled pixel becomes a `scale` x `scale` block.
    public let scale: Int

    /// - Precondition: `rows`, `columns`, `separator` >= 0; `tileWidth`, `tileHeight`, `scale` >= 1.
    public init(rows: Int, columns: Int, tileWidth: Int = 28, tileHeight: Int = 28,
                separator: Int = 1, separatorValue: UInt8 = 128, scale: Int = 1) {
        precondition(rows >= 0 && columns >= 0, "ImageGrid: negative grid \(rows)x\(columns)")
        precondition(tileWidth >= 1 && tileHeight >= 1, "ImageGrid: tile size must be >= 1, got \(tileWidth)x\(tileHeight)")
        precondition(separator >= 0, "ImageGrid: separator must be >= 0, got \(separator)")
        precondition(scale >= 1, "ImageGrid: scale must be >= 1, got \(scale)")
        self.rows = rows
        self.columns = columns
        self.tileWidth = tileWidth
        self.tileHeight = tileHeight
        self.separator = separator
        self.separatorValue = separatorValue
        self.scale = scale
    }

    /// Width of the rendered image: `scale * (columns * tileWidth + (columns + 1) * separator)`.
    public var width: Int { scale * unscaledWidth }

    /// Height of the rendered image: `scale * (rows * tileHeight + (rows + 1) * separator)`.
    public var height: Int { scale * unscaledHeight }

    /// Number of floats in one tile: `tileWidth * tileHeight`.
    public var tileSize: Int { tileWidth * tileHeight }

    /// Top-left pixel of tile `index` in the rendered image (see the type's geometry notes).
    public func origin(ofTile index: Int) -> (x: Int, y: Int) {
        precondition(index >= 0 && index < rows * columns, "ImageGrid: tile \(index) outside \(rows)x\(columns)")
        let row = index / columns, column = index % columns
        return (scale * (separator + column * (tileWidth + separator)),
                scale * (separator + row * (tileHeight + separator)))
    }

    /// Renders the tiles as a gray image of `width` x `height` pixels.
    ///
    /// - Parameter tiles: up to `rows * columns * tileHeight * tileWidth` floats, tile-major (tile 0's
    ///   pixels row by row, then tile 1's, ...), filling the grid row by row. Missing trailing tiles stay
    ///   background (0). Values are clamped to [0, 1] and mapped to `UInt8((v * 255).rounded())`; NaN
    ///   maps to 0.
    /// - Precondition: `tiles.count` is a multiple of `tileSize` and at most `rows * columns * tileSize`.
    public func render(tiles: [Float]) -> PixelImage {
        precondition(tiles.count % tileSize == 0,
                     "ImageGrid.render: \(tiles.count) floats is not a whole number of \(tileWidth)x\(tileHeight) tiles")
        precondition(tiles.count <= rows * columns * tileSize,
                     "ImageGrid.render: \(tiles.count / tileSize) tiles do not fit a \(rows)x\(columns) grid")
        let width = self.width, height = self.height
        var image = PixelImage(width: width, height: height, channels: 1, fill: 0)
        guard width > 0, height > 0 else { return image }
        image.pixels.withUnsafeMutableBufferPointer { out in
            // Separator lines and border, drawn as unscaled bands then scaled.
            if separator > 0 {
                for column in 0...columns {
                    let x0 = scale * column * (tileWidth + separator)
                    fill(out, x: x0, y: 0, width: scale * separator, height: height, stride: width)
                }
                for row in 0...rows {
                    let y0 = scale * row * (tileHeight + separator)
                    fill(out, x: 0, y: y0, width: width, height: scale * separator, stride: width)
                }
            }
            tiles.withUnsafeBufferPointer { input in
                for tile in 0..<(input.count / tileSize) {
                    let (x0, y0) = origin(ofTile: tile)
                    let base = tile * tileSize
                    for ty in 0..<tileHeight {
                        for tx in 0..<tileWidth {
                            let value = PixelImage.byte(fromUnit: input[base + ty * tileWidth + tx])
                            let x = x0 + tx * scale, y = y0 + ty * scale
                            for dy in 0..<scale {
                                let rowStart = (y + dy) * width + x
                                for dx in 0..<scale { out[rowStart + dx] = value }
                            }
                        }
                    }
                }
            }
        }
        return image
    }

    private var unscaledWidth: Int { columns * tileWidth + (columns + 1) * separator }
    private var unscaledHeight: Int { rows * tileHeight + (rows + 1) * separator }

    private func fill(_ out: UnsafeMutableBufferPointer<UInt8>, x: Int, y: Int, width w: Int, height h: Int,
                      stride: Int) {
        for row in y..<(y + h) {
            for column in x..<(x + w) { out[row * stride + column] = separatorValue }
        }
    }
}
