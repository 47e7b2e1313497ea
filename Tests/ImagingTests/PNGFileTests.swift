import Foundation
import Storage
import Testing
import TestSupport
@testable import Imaging

@Suite("PNG encode/decode")
struct PNGFileTests {
    @Test("encode then decode gives the same pixels and channel count",
          arguments: [1, 3, 4], [(1, 1), (7, 5), (28, 28), (33, 17)])
    func roundTrip(channels: Int, size: (width: Int, height: Int)) throws {
        let image = randomImage(width: size.width, height: size.height, channels: channels,
                                seed: UInt64(channels * 1000 + size.width * 10 + size.height))
        let bytes = try PNGFile.encode(image)
        #expect(Array(bytes.prefix(8)) == PNGFile.signature)
        let decoded = try PNGFile.decode(bytes, source: "round trip")
        #expect(decoded.channels == channels)
        #expect(decoded == image)
    }

    @Test("a written file starts with the PNG signature and reads back the same")
    func writeThenRead() throws {
        let image = randomImage(width: 40, height: 30, channels: 1, seed: 7)
        try withTemporaryFolder { folder in
            let path = folder + "/digit.png"
            try PNGFile.write(image, to: path)
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            #expect(try PNGFile.read(contentsOf: path) == image)
            #expect(try PNGFile.decode(bytes, source: path) == image)
            // Writing again replaces the file and leaves no temporary file behind.
            let second = randomImage(width: 3, height: 2, channels: 3, seed: 8)
            try PNGFile.write(second, to: path)
            #expect(try PNGFile.read(contentsOf: path) == second)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["digit.png"])
        }
    }

    @Test("an independent Python/zlib decoder reads the same pixels", arguments: [1, 3, 4])
    func independentDecoderAgrees(channels: Int) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Python/decode_png.py").path
        // A smooth gradient plus noise, so libpng picks a mix of row filters.
        var image = randomImage(width: 57, height: 31, channels: channels, seed: 99)
        for y in 0..<image.height {
            for x in 0..<image.width where (x + y) % 3 != 0 {
                for c in 0..<channels { image[x: x, y: y, channel: c] = UInt8((x * 4 + y * 3 + c * 50) % 256) }
            }
        }
        try withTemporaryFolder { folder in
            let path = folder + "/image.png"
            try PNGFile.write(image, to: path)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script, path]
            let output = Pipe(), errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            let outputData = output.fileHandleForReading.readDataToEndOfFile()
            let errorData = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let errorText = String(decoding: errorData, as: UTF8.self)
            try #require(process.terminationStatus == 0, "decode_png.py failed: \(errorText)")
            let fields = String(decoding: outputData, as: UTF8.self)
                .split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
            let (sum, weighted) = checksums(of: image.pixels)
            #expect(fields == [image.width, image.height, channels, sum, weighted])
        }
    }

    @Test("decoding garbage bytes throws decodeFailed naming the source")
    func garbageThrows() throws {
        var generator = SeededBytes(seed: 3)
        for bytes in [[], [0x89, 0x50], generator.bytes(1000), Array("not a png at all".utf8)] {
            let error = #expect(throws: ImagingError.self) { try PNGFile.decode(bytes, source: "garbage.bin") }
            guard case let .decodeFailed(source, message)? = error else {
                Issue.record("expected decodeFailed, got \(String(describing: error))")
                continue
            }
            #expect(source == "garbage.bin")
            #expect(!message.isEmpty)
            #expect(error?.description.contains("garbage.bin") == true)
        }
    }

    @Test("decoding a truncated PNG throws decodeFailed", arguments: [8, 20, 40, 200, 1000])
    func truncatedThrows(keptBytes: Int) throws {
        let bytes = try PNGFile.encode(randomImage(width: 50, height: 50, channels: 3, seed: 5))
        try #require(keptBytes < bytes.count - 12)
        let error = #expect(throws: ImagingError.self) {
            try PNGFile.decode(Array(bytes.prefix(keptBytes)), source: "cut.png")
        }
        guard case .decodeFailed(source: "cut.png", _)? = error else {
            Issue.record("expected decodeFailed, got \(String(describing: error))")
            return
        }
    }

    @Test("a PNG with a corrupted IDAT byte throws decodeFailed")
    func corruptedThrows() throws {
        var bytes = try PNGFile.encode(randomImage(width: 20, height: 20, channels: 1, seed: 11))
        bytes[bytes.count / 2] ^= 0xFF   // inside IDAT: CRC mismatch
        let error = #expect(throws: ImagingError.self) { try PNGFile.decode(bytes, source: "bad.png") }
        guard case .decodeFailed? = error else {
            Issue.record("expected decodeFailed, got \(String(describing: error))")
            return
        }
    }

    @Test("writing into a folder that does not exist throws file(cannotCreate) and creates nothing")
    func writeIntoMissingFolderThrows() throws {
        try withTemporaryFolder { (folder: String) throws in
            let path = folder + "/no/such/folder/image.png"
            let error = #expect(throws: ImagingError.self) {
                try PNGFile.write(PixelImage(width: 2, height: 2, channels: 1, fill: 9), to: path)
            }
            guard case let .file(.cannotCreate(failedPath, _))? = error else {
                Issue.record("expected file(cannotCreate), got \(String(describing: error))")
                return
            }
            #expect(failedPath == path)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
        }
    }

    @Test("reading a missing file throws decodeFailed naming the path")
    func readMissingFileThrows() throws {
        let path = "/nonexistent-imaging-test/missing.png"
        let error = #expect(throws: ImagingError.self) { try PNGFile.read(contentsOf: path) }
        guard case .decodeFailed(source: path, _)? = error else {
            Issue.record("expected decodeFailed, got \(String(describing: error))")
            return
        }
    }

    @Test("encoding an inconsistent or empty image throws invalidImage")
    func invalidImageThrows() throws {
        var image = PixelImage(width: 4, height: 4, channels: 1, fill: 0)
        image.pixels.removeLast()
        var twoChannels = PixelImage(width: 4, height: 2, channels: 1, fill: 0)
        twoChannels.channels = 2
        for bad in [image, twoChannels, PixelImage(width: 0, height: 5, channels: 1, fill: 0)] {
            let error = #expect(throws: ImagingError.self) { try PNGFile.encode(bad) }
            guard case .invalidImage(destination: "<memory>", _)? = error else {
                Issue.record("expected invalidImage, got \(String(describing: error))")
                continue
            }
        }
    }

    @Test("error descriptions are one line and name the file")
    func errorDescriptions() {
        let errors: [ImagingError] = [
            .invalidImage(destination: "a.png", reason: "r"),
            .encodeFailed(destination: "a.png", message: "m"),
            .decodeFailed(source: "a.png", message: "m"),
            .imageTooLarge(source: "a.png", width: 1, height: 2),
            .file(.cannotCreate(path: "a.png", reason: "r")),
        ]
        for error in errors {
            #expect(error.description.contains("a.png"))
            #expect(!error.description.contains("\n"))
        }
    }
}

@Suite("PixelImage")
struct PixelImageTests {
    @Test("subscript addresses row-major interleaved samples")
    func subscriptLayout() {
        var image = PixelImage(width: 3, height: 2, channels: 3, fill: 0)
        image[x: 2, y: 1, channel: 1] = 77
        #expect(image.pixels[(1 * 3 + 2) * 3 + 1] == 77)
        #expect(image[x: 2, y: 1, channel: 1] == 77)
        let gray = PixelImage(width: 2, height: 2, channels: 1, pixels: [1, 2, 3, 4])
        #expect(gray[x: 1, y: 0] == 2)
        #expect(gray[x: 0, y: 1] == 3)
    }

    @Test("fromUnitFloats maps [0,1] to bytes with clamping and rounding")
    func fromUnitFloats() {
        let image = PixelImage.fromUnitFloats([0, 1, 0.5, -1, 2, .nan, 0.25, .infinity], width: 4, height: 2)
        #expect(image.channels == 1)
        #expect(image.width == 4 && image.height == 2)
        #expect(image.pixels == [0, 255, 128, 0, 255, 0, 64, 255])
    }
}
