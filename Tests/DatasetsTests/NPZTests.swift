import Datasets
import Foundation
import Storage
import Testing

/// Runs `python3 -c CODE ARGS...` (plain python3 with numpy); returns the exit status and the output.
private func numpy(_ code: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", code] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}

/// pytorch-fid-like statistics and two other element types; numpy computes the same values from the same formulas.
private let statistics: [String: NPYArray] = [
    "mu": NPYArray(shape: [5], elements: .float64((0..<5).map { Double($0) / 3 })),
    "sigma": NPYArray(shape: [5, 5], elements: .float64((0..<25).map { Double($0) / 7 - 1 })),
    "pixels": NPYArray(shape: [2, 3], elements: .uint8([0, 1, 127, 128, 254, 255])),
    "f32": NPYArray(shape: [], elements: .float32([0.25])),
]

private let numpyArrays = """
    import numpy as np
    arrays = dict(mu=np.arange(5) / 3, sigma=np.arange(25, dtype=np.float64).reshape(5, 5) / 7 - 1,
                  pixels=np.array([[0, 1, 127], [128, 254, 255]], dtype=np.uint8), f32=np.array(0.25, dtype=np.float32))

    """

/// numpy's `.npz` files (pytorch-fid statistics) read and written, checked against numpy itself.
@Suite struct NPZTests {
    @Test(arguments: ["savez", "savez_compressed"])
    func readsWhatNumpyWrites(_ function: String) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("stats.npz")
        let result = try numpy(numpyArrays + "np.\(function)(__import__('sys').argv[1], **arrays)\n", [path])
        try #require(result.status == 0, "numpy failed: \(result.output)")
        let arrays = try NPZ.read(contentsOf: path)
        #expect(arrays == statistics)
        let method = try ZipArchive(contentsOf: path).entries.first?.method
        #expect(method == (function == "savez" ? .stored : .deflated))
    }

    @Test func numpyReadsWhatWeWrite() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("ours.npz")
        try NPZ.write(statistics, to: path)
        #expect(folder.contents() == ["ours.npz"], "no temporary file left")
        let check = numpyArrays + """
            import sys
            loaded = np.load(sys.argv[1])
            assert sorted(loaded.files) == sorted(arrays), loaded.files
            for k, v in arrays.items():
                assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape and loaded[k].tobytes() == v.tobytes(), k
            print("OK")
            """
        let result = try numpy(check, [path])
        #expect(result.status == 0 && result.output.contains("OK"), "\(result.output)")
        #expect(NPZ.encode(statistics) == NPZ.encode(statistics), "deterministic")
        #expect(try NPZ.decode(NPZ.encode(statistics), source: "x") == statistics)
    }

    @Test func damagedArchivesAreRefusedNamingTheEntry() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("c.npz")
        let result = try numpy(numpyArrays + "np.savez_compressed(__import__('sys').argv[1], **arrays)\n", [path])
        try #require(result.status == 0, "numpy failed: \(result.output)")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let archive = try ZipArchive(bytes: bytes)
        let sigma = try #require(archive.entry(named: "sigma.npy"))

        // A damaged deflate stream: zlib's complaint, naming the entry.
        var garbled = bytes
        for offset in 0..<8 { garbled[sigma.dataOffset + offset] = 0xFF }
        do {
            _ = try NPZ.decode(garbled, source: "c.npz")
            Issue.record("garbled deflate data was accepted")
        } catch let error as DatasetError {
            #expect(error.description.hasPrefix("c.npz entry sigma.npy: corrupt gzip data"), "\(error)")
        } catch let error as ZipError {
            #expect(error == .checksumMismatch(source: "c.npz", entry: "sigma.npy"))
        }

        // Every truncation is refused with a one-line error.
        for length in stride(from: 0, to: bytes.count, by: 11) {
            do {
                _ = try NPZ.decode(Array(bytes.prefix(length)), source: "cut.npz")
                Issue.record("a \(length)-byte prefix was accepted")
            } catch {
                #expect(!"\(error)".contains("\n"))
            }
        }

        // An entry that is not an array.
        let notArrays = ZipArchive.stored([("readme.txt", Array("hello".utf8))])
        #expect(throws: NPYError(path: "n.npz entry readme.txt", reason: "the entry is not named <key>.npy, so the file is not an .npz archive of arrays")) {
            _ = try NPZ.decode(notArrays, source: "n.npz")
        }
    }

    @Test func rawInflateChecksTheRecordedSize() throws {
        let text = [UInt8](repeating: 65, count: 1000)
        // zlib's raw deflate of `text` via numpy's writer is tested above; here Gzip's own deflate, minus gzip framing.
        let gzip = try Gzip.compress(text)
        let raw = gzip[10..<(gzip.count - 8)]
        #expect(try Gzip.inflateRaw(raw, expectedSize: 1000, source: "r") == text)
        #expect(throws: DatasetError.corruptGzip(path: "r", detail: "the data inflates to 1000 bytes, not the 999 recorded")) {
            _ = try Gzip.inflateRaw(raw, expectedSize: 999, source: "r")
        }
        #expect(throws: DatasetError.corruptGzip(path: "r", detail: "the data inflates to 1000 bytes, not the 1001 recorded")) {
            _ = try Gzip.inflateRaw(raw, expectedSize: 1001, source: "r")
        }
        #expect {
            _ = try Gzip.inflateRaw(raw.prefix(raw.count / 2), expectedSize: 1000, source: "r")
        } throws: { error in
            "\(error)".hasPrefix("r: corrupt gzip data (the deflate stream ends early, after ") && "\(error)".contains(" of 1000 bytes)")
        }
        #expect(throws: DatasetError.corruptGzip(path: "r", detail: "2 deflated bytes cannot inflate to the 100000000 recorded")) {
            _ = try Gzip.inflateRaw([1, 2], expectedSize: 100_000_000, source: "r")
        }
    }
}
