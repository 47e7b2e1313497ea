import Foundation
import Testing
@testable import Storage

/// Little-endian patching of hand-made archives.
private func patch32(_ bytes: inout [UInt8], at offset: Int, _ value: UInt32) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> UInt32(8 * i)) }
}

private func patch16(_ bytes: inout [UInt8], at offset: Int, _ value: UInt16) {
    bytes[offset] = UInt8(value & 0xFF)
    bytes[offset + 1] = UInt8(value >> 8)
}

/// The offset of the first central-directory header (signature PK\1\2).
private func centralDirectory(_ bytes: [UInt8]) -> Int {
    (0..<(bytes.count - 4)).first { bytes[$0] == 0x50 && bytes[$0 + 1] == 0x4B && bytes[$0 + 2] == 1 && bytes[$0 + 3] == 2 }!
}

/// The ZipError `body` throws; records an issue when it throws something else or nothing.
private func zipError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ZipError? {
    do {
        try body()
        Issue.record("expected a ZipError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as ZipError {
        #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a ZipError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite struct ZipArchiveTests {
    static let files: [(name: String, bytes: [UInt8])] = [
        ("archive/data.pkl", Array("pickle bytes".utf8)),
        ("archive/data/0", (0..<200).map { UInt8($0 % 251) }),
        ("empty", []),
        ("ünïcødé/名前", [1, 2, 3]),
    ]

    @Test func crc32MatchesTheStandardCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        let whole = CRC32.checksum(Array("hello, world".utf8))
        #expect(CRC32.checksum(Array(", world".utf8), continuing: CRC32.checksum(Array("hello".utf8))) == whole)
    }

    /// The slicing-by-8 CRC against the bit-at-a-time definition, for every length across the 8-byte steps, whole
    /// and in two pieces.
    @Test func crc32MatchesTheBitwiseDefinition() {
        func naive(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return ~crc
        }
        var state: UInt32 = 3
        for length in 0..<70 {
            let bytes: [UInt8] = (0..<length).map { _ in state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
            #expect(CRC32.checksum(bytes) == naive(bytes), "length \(length)")
            let cut = length / 3
            #expect(CRC32.checksum(bytes[cut...], continuing: CRC32.checksum(bytes[..<cut])) == naive(bytes))
        }
    }

    @Test func storedArchiveRoundTrips() throws {
        let bytes = ZipArchive.stored(Self.files)
        #expect(Array(bytes.prefix(4)) == ZipArchive.localHeaderMagic)
        let archive = try ZipArchive(bytes: bytes, source: "t.zip")
        #expect(archive.entries.map(\.name) == Self.files.map(\.name))
        for file in Self.files {
            #expect(try archive.contents(of: file.name) == file.bytes)
            #expect(archive.entry(named: file.name)?.method == .stored)
        }
        #expect(ZipArchive.stored(Self.files) == bytes, "deterministic")
        #expect(try ZipArchive(bytes: ZipArchive.stored([])).entries.isEmpty)
        let missing = zipError { _ = try archive.contents(of: "nope") }
        #expect(missing == .missingEntry(source: "t.zip", entry: "nope"))
    }

    @Test func pythonsZipfileReadsOurArchive() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("t.zip").path
        try Data(ZipArchive.stored(Self.files)).write(to: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // testzip() checks every CRC; the listing must come back in order with the right sizes.
        process.arguments = ["python3", "-c", """
            import sys, zipfile
            z = zipfile.ZipFile(sys.argv[1])
            assert z.testzip() is None
            print(";".join(f"{i.filename}={i.file_size}" for i in z.infolist()))
            """, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines)
                == Self.files.map { "\($0.name)=\($0.bytes.count)" }.joined(separator: ";"))
    }

    @Test func refusesCompressedEncryptedZip64AndOverlappingEntries() throws {
        let good = ZipArchive.stored(Self.files)
        let directory = centralDirectory(good)

        // Method 8 in the central directory: readable as deflate, but refused by a stored-only caller.
        var deflated = good
        patch16(&deflated, at: directory + 10, 8)
        let archive = try ZipArchive(bytes: deflated, source: "d.zip")
        #expect(zipError { _ = try archive.contents(of: "archive/data.pkl") } == .compressed(source: "d.zip", entry: "archive/data.pkl"))
        // An "inflater" that gives the right bytes passes the size and CRC checks.
        #expect(try archive.contents(of: "archive/data.pkl") { raw, _ in Array(raw) } == Array("pickle bytes".utf8))
        #expect(zipError { _ = try archive.contents(of: "archive/data.pkl") { raw, _ in Array(raw.dropLast()) } }
                == .malformed(source: "d.zip", reason: "entry \"archive/data.pkl\" inflates to 11 bytes, not the 12 recorded"))

        var bzip2 = good
        patch16(&bzip2, at: directory + 10, 12)
        #expect(zipError { _ = try ZipArchive(bytes: bzip2, source: "b.zip") } == .unsupportedMethod(source: "b.zip", entry: "archive/data.pkl", method: 12))

        var encrypted = good
        patch16(&encrypted, at: directory + 8, 0x0801)
        #expect(zipError { _ = try ZipArchive(bytes: encrypted, source: "e.zip") } == .encrypted(source: "e.zip", entry: "archive/data.pkl"))

        var zip64 = good
        patch32(&zip64, at: directory + 24, 0xFFFF_FFFF)
        let zip64Error = zipError { _ = try ZipArchive(bytes: zip64, source: "z.zip") }
        #expect(zip64Error == .zip64(source: "z.zip", entry: "archive/data.pkl"))
        #expect(zip64Error?.description.contains("zip64") == true)

        // The first entry claims 100 bytes, running into the second entry's local header.
        var overlapping = good
        patch32(&overlapping, at: directory + 20, 100)
        patch32(&overlapping, at: directory + 24, 100)
        let overlap = zipError { _ = try ZipArchive(bytes: overlapping, source: "o.zip") }
        #expect(overlap == .overlappingEntries(source: "o.zip", first: "archive/data.pkl", second: "archive/data/0"))
        #expect(overlap?.description.contains("\"archive/data.pkl\"") == true)

        // Two central-directory headers with one name.
        // Local headers are 30 bytes + name + data (32 each here), central headers 46 + name.
        var duplicate = ZipArchive.stored([("a", [1]), ("b", [2])])
        duplicate[centralDirectory(duplicate) + 47 + 46] = UInt8(ascii: "a")
        duplicate[32 + 30] = UInt8(ascii: "a")
        #expect(zipError { _ = try ZipArchive(bytes: duplicate, source: "two.zip") } == .duplicateName(source: "two.zip", entry: "a"))
    }

    @Test func aFlippedDataByteFailsTheChecksumNamingTheEntry() throws {
        var bytes = ZipArchive.stored(Self.files)
        let archive = try ZipArchive(bytes: bytes)
        let entry = try #require(archive.entry(named: "archive/data/0"))
        bytes[entry.dataOffset + 57] ^= 0x10
        let corrupted = try ZipArchive(bytes: bytes, source: "c.zip")
        let error = zipError { _ = try corrupted.contents(of: "archive/data/0") }
        #expect(error == .checksumMismatch(source: "c.zip", entry: "archive/data/0"))
        #expect(error?.description.contains("CRC-32") == true)
        #expect(try corrupted.contents(of: "archive/data.pkl") == Self.files[0].bytes)
    }

    @Test func everyTruncationIsRefused() {
        let bytes = ZipArchive.stored(Self.files)
        for length in 0..<bytes.count {
            let prefix = Array(bytes.prefix(length))
            do {
                let archive = try ZipArchive(bytes: prefix, source: "cut.zip")
                Issue.record("a \(length)-byte prefix was accepted with \(archive.entries.count) entries")
            } catch let error as ZipError {
                #expect(!error.description.contains("\n"))
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test func randomGarblingNeverTraps() {
        let bytes = ZipArchive.stored(Self.files)
        var state: UInt32 = 7
        for _ in 0..<2000 {
            var garbled = bytes
            for _ in 0..<3 {
                state = state &* 1_664_525 &+ 1_013_904_223
                garbled[Int(state >> 8) % garbled.count] = UInt8(truncatingIfNeeded: state >> 3)
            }
            guard let archive = try? ZipArchive(bytes: garbled) else { continue }
            for entry in archive.entries { _ = try? archive.contents(of: entry.name) }
        }
    }
}
