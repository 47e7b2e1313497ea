import Foundation
import Testing
@testable import Storage
#if canImport(Glibc)
import Glibc
#endif

/// The run-folder lock within one process (the cross-process cases are end-to-end tests), the PNG tEXt chunks that
/// tie a sample sheet to its checkpoint, and file errors in plain words.
@Suite struct RunFolderLockTests {
    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "lock-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func nestedLocksCountAndTheFileNamesTheHolder() throws {
        let path = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outer = try RunFolderLock(folder: path, wait: false, command: "outer command")
        let inner = try RunFolderLock(folder: path + "/", wait: false, command: "inner")  // the same folder: nests
        let text = try String(contentsOfFile: path + "/" + RunFolderLock.fileName, encoding: .utf8)
        #expect(text == "pid \(getpid())\ncommand outer command\n")
        inner.release()
        // Still held by `outer`: another open file description cannot take it.
        let fd = open(path + "/" + RunFolderLock.fileName, O_RDWR)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) != 0)
        #expect(RunFolderLock.describeHolder(fd: fd) == "PID \(getpid()) (outer command)")
        outer.release()
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0, "released, the lock is free")
        flock(fd, LOCK_UN)
    }

    @Test func removeFolderLeavesNothingAndALaterLockStartsAgain() throws {
        let path = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let lock = try RunFolderLock(folder: path, wait: false)
        #expect(lock.removeFolder())
        #expect(!FileManager.default.fileExists(atPath: path))
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path + "/kept", withIntermediateDirectories: true)
        let again = try RunFolderLock(folder: path, wait: false)
        #expect(!again.removeFolder(), "a folder holding something else is kept")
        #expect(FileManager.default.fileExists(atPath: path + "/kept"))
    }

    @Test func textChunksRoundTripAndCorruptOnesAreIgnored() throws {
        // A 1x1 gray PNG: signature, IHDR, IDAT, IEND (bytes of any encoder's output shape).
        let ihdr: [UInt8] = Array("IHDR".utf8) + [0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]
        func chunk(_ body: [UInt8]) -> [UInt8] {
            PNGText.bigEndian(UInt32(body.count - 4)) + body + PNGText.bigEndian(PNGText.crc32(body))
        }
        let png = PNGText.signature + chunk(ihdr) + chunk(Array("IDAT".utf8) + [0x78, 0x9C, 0x63, 0, 0, 0, 1, 0, 1])
            + chunk(Array("IEND".utf8))
        #expect(PNGText.crc32(Array("IEND".utf8)) == 0xAE42_6082, "CRC-32 of the IEND chunk as every PNG has it")
        let tagged = try #require(PNGText.inserting(["checkpoint_sha256": "abc", "b": "x y"], into: png))
        #expect(PNGText.entries(in: tagged) == ["checkpoint_sha256": "abc", "b": "x y"])
        #expect(PNGText.entries(in: png).isEmpty)
        var damaged = tagged
        damaged[33 + 8] ^= 1  // a byte inside the first tEXt chunk: its CRC no longer matches
        #expect(PNGText.entries(in: damaged).count == 1)
        #expect(PNGText.entries(in: Array(tagged.prefix(40))).isEmpty, "cut short")
        #expect(PNGText.inserting([:], into: Array("not a png at all, no".utf8) + png) == nil)
    }

    @Test func fileErrorsAreInPlainWords() throws {
        let path = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        FileManager.default.createFile(atPath: path + "/file", contents: Data())
        #expect(throws: FileError.cannotCreate(path: path + "/file/sub", reason: "\(path)/file is a file, not a folder")) {
            try FileError.createFolder(path + "/file/sub")
        }
        do {
            _ = try Data(contentsOf: URL(fileURLWithPath: path + "/missing"))
            Issue.record("read a missing file")
        } catch {
            let reason = FileError.reason(of: error)
            #expect(reason.hasPrefix("no such file or ") && !reason.contains("Domain"), "\(reason)")
        }
        #expect(1.counted("epoch") == "1 epoch" && 2.counted("epoch") == "2 epochs" && 0.counted("run") == "0 runs")
    }
}
