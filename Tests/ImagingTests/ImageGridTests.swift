import Testing
@testable import Imaging

@Suite("ImageGrid")
struct ImageGridTests {
    struct Geometry: CustomTestStringConvertible, Sendable {
        let rows, columns, tileWidth, tileHeight, separator, scale, width, height: Int
        var testDescription: String { "\(rows)x\(columns) tiles \(tileWidth)x\(tileHeight) sep \(separator) scale \(scale)" }
    }

    @Test("width and height follow scale * (n * tile + (n + 1) * separator)", arguments: [
        Geometry(rows: 1, columns: 1, tileWidth: 28, tileHeight: 28, separator: 1, scale: 1, width: 30, height: 30),
        Geometry(rows: 10, columns: 10, tileWidth: 28, tileHeight: 28, separator: 1, scale: 1, width: 291, height: 291),
        Geometry(rows: 2, columns: 5, tileWidth: 28, tileHeight: 28, separator: 0, scale: 1, width: 140, height: 56),
        Geometry(rows: 3, columns: 4, tileWidth: 28, tileHeight: 28, separator: 2, scale: 3, width: 366, height: 276),
        Geometry(rows: 4, columns: 2, tileWidth: 5, tileHeight: 7, separator: 1, scale: 2, width: 26, height: 66),
        Geometry(rows: 0, columns: 3, tileWidth: 4, tileHeight: 4, separator: 1, scale: 1, width: 16, height: 1),
    ])
    func size(_ g: Geometry) {
        let grid = ImageGrid(rows: g.rows, columns: g.columns, tileWidth: g.tileWidth, tileHeight: g.tileHeight,
                             separator: g.separator, scale: g.scale)
        #expect(grid.width == g.width)
        #expect(grid.height == g.height)
        let image = grid.render(tiles: [])
        #expect(image.width == g.width && image.height == g.height && image.channels == 1)
        #expect(image.pixels.count == g.width * g.height)
    }

    @Test("a known tile lands at its offset and the rest of the grid is untouched")
    func tilePlacement() {
        let grid = ImageGrid(rows: 2, columns: 3, tileWidth: 4, tileHeight: 3, separator: 2, separatorValue: 200)
        // Tile 4 is row 1, column 1: origin x = 2 + 1 * (4 + 2) = 8, y = 2 + 1 * (3 + 2) = 7.
        #expect(grid.origin(ofTile: 4) == (x: 8, y: 7))
        var tiles = [Float](repeating: 0, count: 6 * 12)
        for i in 0..<12 { tiles[4 * 12 + i] = Float(i + 1) / 255 }   // tile 4 holds 1...12
        let image = grid.render(tiles: tiles)
        for y in 0..<3 {
            for x in 0..<4 { #expect(image[x: 8 + x, y: 7 + y] == UInt8(y * 4 + x + 1)) }
        }
        // Every non-separator pixel outside tile 4 is background 0.
        let tile4 = Set((7..<10).flatMap { y in (8..<12).map { x in y * image.width + x } })
        for (index, value) in image.pixels.enumerated() where !tile4.contains(index) {
            #expect(value == 0 || value == 200)
        }
    }

    @Test("separator lines and the border have the separator value", arguments: [1, 2])
    func separators(scale: Int) {
        let grid = ImageGrid(rows: 2, columns: 2, tileWidth: 3, tileHeight: 3, separator: 1,
                             separatorValue: 77, scale: scale)
        let image = grid.render(tiles: [Float](repeating: 1, count: 4 * 9))
        // Unscaled layout on each axis: sep, 3 tile pixels, sep, 3 tile pixels, sep -> lines at 0, 4, 8.
        let lines: Set<Int> = [0, 4, 8]
        for y in 0..<image.height {
            for x in 0..<image.width {
                let onLine = lines.contains(x / scale) || lines.contains(y / scale)
                #expect(image[x: x, y: y] == (onLine ? 77 : 255), "pixel (\(x), \(y))")
            }
        }
    }

    @Test("scale 3 repeats every pixel of the scale-1 rendering as a 3x3 block")
    func scaleRepeatsBlocks() {
        var generator = SeededBytes(seed: 21)
        let tiles = generator.bytes(5 * 6 * 7).map { Float($0) / 255 }
        let small = ImageGrid(rows: 2, columns: 3, tileWidth: 6, tileHeight: 7, separator: 1).render(tiles: tiles)
        let big = ImageGrid(rows: 2, columns: 3, tileWidth: 6, tileHeight: 7, separator: 1, scale: 3)
            .render(tiles: tiles)
        #expect(big.width == 3 * small.width && big.height == 3 * small.height)
        var mismatches = 0
        for y in 0..<big.height {
            for x in 0..<big.width where big[x: x, y: y] != small[x: x / 3, y: y / 3] { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test("values are clamped to [0,1] and rounded to bytes", arguments: [
        (Float(0), UInt8(0)), (1, 255), (0.5, 128), (-1, 0), (2, 255), (.nan, 0), (1.0 / 255, 1), (0.998, 254),
    ])
    func valueMapping(value: Float, expected: UInt8) {
        let grid = ImageGrid(rows: 1, columns: 1, tileWidth: 1, tileHeight: 1, separator: 1)
        let image = grid.render(tiles: [value])
        #expect(image[x: 1, y: 1] == expected)
    }

    @Test("missing tiles stay background 0")
    func missingTiles() {
        let grid = ImageGrid(rows: 2, columns: 2, tileWidth: 2, tileHeight: 2, separator: 0)
        let image = grid.render(tiles: [Float](repeating: 1, count: 4))   // only tile 0
        #expect(image.pixels == [255, 255, 0, 0,
                                 255, 255, 0, 0,
                                 0, 0, 0, 0,
                                 0, 0, 0, 0])
    }

    @Test("a rendered grid survives a PNG round trip")
    func gridToPNG() throws {
        let grid = ImageGrid(rows: 3, columns: 4, scale: 2)
        var generator = SeededBytes(seed: 4)
        let tiles = generator.bytes(12 * 28 * 28).map { Float($0) / 255 }
        let image = grid.render(tiles: tiles)
        #expect(try PNGFile.decode(PNGFile.encode(image), source: "grid") == image)
    }
}
