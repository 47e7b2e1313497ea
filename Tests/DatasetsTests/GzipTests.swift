import Datasets
import Foundation
import Testing

@Suite struct GzipTests {
    let payload = pseudoRandomBytes(count: 50_000, seed: 7).map { $0 & 0x0f } // compressible, not trivial

    @Test func roundTrip() throws {
        let compressed = try Gzip.compress(payload)
        #expect(Gzip.isCompressed(compressed))
        #expect(compressed.count < payload.count)
        #expect(try Gzip.decompress(compressed) == payload)
    }

    @Test func emptyInputRoundTrips() throws {
        let compressed = try Gzip.compress([UInt8]())
        #expect(try Gzip.decompress(compressed) == [])
    }

    @Test func decompressesWhatPythonWrites() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hello.gz")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import gzip, sys; open(sys.argv[1], 'wb').write(gzip.compress(b'hello, MNIST' * 1000))", path]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        let expected = Array(String(repeating: "hello, MNIST", count: 1000).utf8)
        #expect(try Gzip.contentsOfFile(atPath: path) == expected)
    }

    @Test func concatenatesMembers() throws {
        let first = Array(payload[..<20_000]), second = Array(payload[20_000...])
        let joined = try Gzip.compress(first) + Gzip.compress(second)
        #expect(try Gzip.decompress(joined) == payload)
    }

    @Test func ignoresZeroPaddingAfterTheLastMember() throws {
        let padded = try Gzip.compress(payload) + [UInt8](repeating: 0, count: 100)
        #expect(try Gzip.decompress(padded) == payload)
    }

    @Test func readsRawFilesAsTheyAre() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try Data(payload).write(to: URL(fileURLWithPath: folder.file("raw")))
        #expect(try Gzip.contentsOfFile(atPath: folder.file("raw")) == payload)
    }

    @Test func missingFileIsReported() {
        let error = datasetError { _ = try Gzip.contentsOfFile(atPath: "/nonexistent/file.gz") }
        #expect(error.map(ErrorKind.init) == .cannotRead)
        #expect(error?.description.contains("/nonexistent/file.gz") == true)
    }

    enum Damage: String, CaseIterable, Sendable {
        case truncatedInTheMiddle, truncatedTrailer, onlyTheHeader, flippedDeflateBytes, flippedCRC
        case garbageAfterTheStream, notGzip

        func apply(to data: [UInt8]) -> [UInt8] {
            var data = data
            switch self {
            case .truncatedInTheMiddle: return Array(data[..<(data.count / 2)])
            case .truncatedTrailer: return Array(data[..<(data.count - 3)])
            case .onlyTheHeader: return Array(data[..<10])
            case .flippedDeflateBytes:
                for offset in 0..<8 { data[data.count / 2 + offset] ^= 0xff }
                return data
            case .flippedCRC: data[data.count - 8] ^= 0x01; return data
            case .garbageAfterTheStream: return data + [0x42, 0x43, 0x44]
            case .notGzip: return [0x50, 0x4b] + data.dropFirst(2)
            }
        }

        var expected: ErrorKind {
            switch self {
            case .truncatedInTheMiddle, .truncatedTrailer, .onlyTheHeader: return .truncatedGzip
            case .flippedDeflateBytes, .flippedCRC, .garbageAfterTheStream, .notGzip: return .corruptGzip
            }
        }
    }

    @Test(arguments: Damage.allCases)
    func damagedDataIsAnErrorNotACrash(damage: Damage) throws {
        let damaged = damage.apply(to: try Gzip.compress(payload))
        let error = datasetError { _ = try Gzip.decompress(damaged, source: "sample.gz") }
        #expect(error.map(ErrorKind.init) == damage.expected)
        #expect(error?.description.hasPrefix("sample.gz: ") == true)
    }
}
