import Datasets
import Foundation
import Testing

@Suite struct IDXTests {
    @Test(arguments: ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
    func writeThenReadRoundTrips(name: String) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let values = pseudoRandomBytes(count: 4 * 3 * 2, seed: 3)
        try IDX.write(values, dimensions: [4, 3, 2], to: folder.file(name))

        let raw = try Data(contentsOf: URL(fileURLWithPath: folder.file(name)))
        #expect(Gzip.isCompressed(raw) == name.hasSuffix(".gz"))
        let array = try IDX.read(contentsOf: folder.file(name), dimensionCount: 3)
        #expect(array == IDXArray(dimensions: [4, 3, 2], values: values))
        #expect(folder.contents() == [name], "no temporary file is left behind")
    }

    @Test func headerLayoutIsBigEndian() throws {
        let bytes = try IDX.encode([1, 2, 3], dimensions: [3])
        #expect(bytes == [0, 0, 0x08, 1, 0, 0, 0, 3, 1, 2, 3])
        let wide = try IDX.encode([UInt8](repeating: 0, count: 0x0102), dimensions: [0x0102])
        #expect(Array(wide[0..<8]) == [0, 0, 0x08, 1, 0, 0, 0x01, 0x02])
    }

    @Test func readsAGzipFileWrittenByPython() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("labels-idx1-ubyte.gz")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c",
                             "import gzip, struct, sys; open(sys.argv[1], 'wb').write(gzip.compress(struct.pack('>BBBBI', 0, 0, 8, 1, 4) + bytes([5, 0, 4, 1])))",
                             path]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        #expect(try IDX.read(contentsOf: path, dimensionCount: 1) == IDXArray(dimensions: [4], values: [5, 0, 4, 1]))
    }

    @Test func anyDimensionCountIsAcceptedWhenNoneIsExpected() throws {
        let array = try IDX.decode(IDX.encode([1, 2, 3, 4], dimensions: [2, 1, 2, 1]), dimensionCount: nil, source: "x")
        #expect(array.dimensions == [2, 1, 2, 1])
    }

    /// Ways to damage a valid 3-dimensional IDX file (2 x 3 x 4 bytes), and the error each must give.
    enum Damage: String, CaseIterable, Sendable {
        case truncatedValues, truncatedHeader, empty, trailingBytes, wrongMagic, wrongType
        case wrongDimensionCount, hugeDimensions, corruptGzip, truncatedGzip

        var expected: ErrorKind {
            switch self {
            case .truncatedValues, .truncatedHeader, .empty: return .truncated
            case .trailingBytes: return .trailingBytes
            case .wrongMagic: return .notIDX
            case .wrongType: return .unsupportedElementType
            case .wrongDimensionCount: return .wrongDimensionCount
            case .hugeDimensions: return .truncated // the claimed size is checked before any allocation
            case .corruptGzip: return .corruptGzip
            case .truncatedGzip: return .truncatedGzip
            }
        }

        func apply(to valid: [UInt8]) throws -> [UInt8] {
            var bytes = valid
            switch self {
            case .truncatedValues: return Array(bytes.dropLast())
            case .truncatedHeader: return Array(bytes[..<10])
            case .empty: return []
            case .trailingBytes: return bytes + [0]
            case .wrongMagic: bytes[1] = 0x01; return bytes
            case .wrongType: bytes[2] = 0x0d; return bytes // float32
            case .wrongDimensionCount: return try IDX.encode(Array(bytes[16...]), dimensions: [6, 4])
            case .hugeDimensions:
                for index in 4..<8 { bytes[index] = 0xff } // 4294967295 images of 3 x 4
                return bytes
            case .corruptGzip:
                var compressed = try Gzip.compress(bigValid())
                for offset in 0..<8 { compressed[compressed.count / 2 + offset] ^= 0xa5 }
                return compressed
            case .truncatedGzip:
                let compressed = try Gzip.compress(bigValid())
                return Array(compressed[..<(compressed.count * 2 / 3)])
            }
        }

        /// A larger file, so that the deflate stream has a middle to damage.
        private func bigValid() throws -> [UInt8] {
            try IDX.encode(pseudoRandomBytes(count: 20 * 28 * 28, seed: 9), dimensions: [20, 28, 28])
        }
    }

    @Test(arguments: Damage.allCases)
    func damagedFilesAreRejected(damage: Damage) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let valid = try IDX.encode(pseudoRandomBytes(count: 24, seed: 5), dimensions: [2, 3, 4])
        let path = folder.file("damaged-idx3-ubyte")
        try Data(damage.apply(to: valid)).write(to: URL(fileURLWithPath: path))

        let error = datasetError { _ = try IDX.read(contentsOf: path, dimensionCount: 3) }
        #expect(error.map(ErrorKind.init) == damage.expected)
        #expect(error?.description.contains(path) == true, "the message names the file")
    }

    @Test func sizeMismatchReportsBothSizes() throws {
        let valid = try IDX.encode([1, 2, 3, 4], dimensions: [4])
        #expect(datasetError { _ = try IDX.decode(valid + [9, 9], dimensionCount: 1, source: "l") }
                == .trailingBytes(path: "l", expectedBytes: 12, actualBytes: 14))
        #expect(datasetError { _ = try IDX.decode(Array(valid.dropLast(3)), dimensionCount: 1, source: "l") }
                == .truncated(path: "l", expectedBytes: 12, actualBytes: 9))
        #expect(datasetError { _ = try IDX.decode(valid, dimensionCount: 3, source: "l") }
                == .wrongDimensionCount(path: "l", expected: 3, found: 1))
    }

    @Test func overflowingDimensionsAreRejected() {
        // 255 dimensions of 0xffffffff: the product overflows Int.
        let header: [UInt8] = [0, 0, 8, 255] + [UInt8](repeating: 0xff, count: 4 * 255)
        let error = datasetError { _ = try IDX.decode(header, dimensionCount: nil, source: "big") }
        #expect(error.map(ErrorKind.init) == .dimensionsTooLarge)
    }

    @Test(arguments: [
        ([2, 3], 5),   // too few values
        ([2, 3], 7),   // too many values
        ([], 0),       // no dimensions
        ([-1], 0),     // negative size
    ])
    func writerRejectsMismatchedShapes(dimensions: [Int], valueCount: Int) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let error = datasetError {
            try IDX.write([UInt8](repeating: 1, count: valueCount), dimensions: dimensions, to: folder.file("x"))
        }
        #expect(error.map(ErrorKind.init) == .shapeMismatch)
        #expect(folder.contents().isEmpty)
    }

    @Test func writerReportsAnUnwritableFolder() {
        let error = datasetError { try IDX.write([1], dimensions: [1], to: "/nonexistent-folder/x-idx1-ubyte") }
        #expect(error.map(ErrorKind.init) == .cannotWrite)
    }
}
