import Foundation
import Testing
import TestSupport
@testable import Storage

// MARK: - Helpers

/// A file made by hand: the length prefix (the header's byte count unless `declaredLength` is given),
/// the header bytes verbatim (no padding), then `buffer`.
private func handMadeFile(_ header: [UInt8], buffer: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let length = declaredLength ?? UInt64(header.count)
    var file = (0..<8).map { UInt8(truncatingIfNeeded: length >> UInt64(8 * $0)) }
    file += header
    file += buffer
    return file
}

private func handMadeFile(_ header: String, buffer: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    handMadeFile(Array(header.utf8), buffer: buffer, declaredLength: declaredLength)
}

/// The header's byte count from the 8-byte prefix.
private func headerLength(of file: [UInt8]) -> Int {
    (0..<8).reduce(0) { $0 | Int(file[$1]) << (8 * $1) }
}

private func entry(_ dtype: SafeTensorsDType, _ shape: [Int], _ bytes: [UInt8]) -> SafeTensorsEntry {
    SafeTensorsEntry(dtype: dtype, shape: shape, bytes: bytes)
}

/// An archive exercising every dtype, a scalar, empty tensors and awkward metadata.
private func sampleArchive() -> SafeTensorsArchive {
    var archive = SafeTensorsArchive(metadata: [
        "epoch": "12", "model": "vae", "unicode": "ünïcødé ✓", "escapes": "quote \" backslash \\ newline \n tab \t",
    ])
    archive.set("encoder.weight", floats: (0..<6).map { Float($0) * 0.25 - 1 }, shape: [2, 3])
    archive.set("encoder.bias", floats: [0.5, -0.5], shape: [2])
    archive.set("stats.mean", doubles: [1.0 / 3.0, -2.5, .pi, 1e-300], shape: [4])
    archive.set("step", int64s: [Int64.min, -1, 0, Int64.max], shape: [2, 2])
    archive.set("scale", floats: [42.5], shape: [])
    archive.set("empty", floats: [], shape: [0])
    archive.set("empty2d", int64s: [], shape: [3, 0])
    archive.set("pixels", entry: entry(.u8, [5], [0, 1, 127, 128, 255]))
    archive.set("mask", entry: entry(.bool, [3], [1, 0, 1]))
    archive.set("half", entry: entry(.f16, [2], [0x00, 0x3C, 0x00, 0xC0]))
    archive.set("brain", entry: entry(.bf16, [1], [0x80, 0x3F]))
    archive.set("small", entry: entry(.i8, [2], [0x80, 0x7F]))
    archive.set("medium", entry: entry(.i16, [1], [0x34, 0x12]))
    archive.set("int", entry: entry(.i32, [1, 1, 1], [1, 0, 0, 0x80]))
    return archive
}

// MARK: - Round trips and layout

@Suite struct SafeTensorsRoundTripTests {
    @Test func roundTripPreservesEverythingAndReserializesIdentically() throws {
        let archive = sampleArchive()
        let bytes = archive.serialized()
        let loaded = try SafeTensorsArchive(bytes: bytes, source: "sample.safetensors")

        #expect(loaded == archive)
        #expect(loaded.metadata == archive.metadata)
        #expect(try loaded.floats("encoder.weight") == [-1, -0.75, -0.5, -0.25, 0, 0.25])
        #expect(try loaded.shape(of: "encoder.weight") == [2, 3])
        #expect(try loaded.doubles("stats.mean") == [1.0 / 3.0, -2.5, .pi, 1e-300])
        #expect(try loaded.int64s("step") == [Int64.min, -1, 0, Int64.max])
        #expect(try loaded.floats("scale") == [42.5])
        #expect(try loaded.shape(of: "scale") == [])
        #expect(try loaded.floats("empty") == [])
        #expect(try loaded.shape(of: "empty") == [0])
        #expect(try loaded.int64s("empty2d") == [])
        #expect(try loaded.shape(of: "empty2d") == [3, 0])
        #expect(loaded.entries["pixels"] == entry(.u8, [5], [0, 1, 127, 128, 255]))
        #expect(loaded.entries["half"]?.dtype == .f16)
        #expect(loaded.serialized() == bytes)
    }

    @Test func writeAndReadFile() throws {
        try withTemporaryFolder { folder in
            let path = folder + "/model.safetensors"
            let archive = sampleArchive()
            try archive.write(to: path)
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == archive.serialized())
            #expect(try SafeTensorsArchive(contentsOf: path) == archive)
        }
    }

    @Test func missingFileThrowsCannotRead() {
        #expect {
            _ = try SafeTensorsArchive(contentsOf: "/nonexistent-folder/model.safetensors")
        } throws: { error in
            guard case let FileError.cannotRead(path, reason) = error else { return false }
            return path == "/nonexistent-folder/model.safetensors" && reason == "No such file or directory"
        }
    }

    @Test func folderThrowsCannotRead() throws {
        try withTemporaryFolder { folder in
            #expect(throws: FileError.cannotRead(path: folder, reason: "not a regular file")) {
                _ = try SafeTensorsArchive(contentsOf: folder)
            }
        }
    }

    @Test func serializationIsIndependentOfInsertionOrder() {
        var forward = SafeTensorsArchive()
        var backward = SafeTensorsArchive()
        let names = (0..<20).map { "layer\($0).weight" } + ["Z", "_", "a", "é", "日本"]
        for (index, name) in names.enumerated() {
            forward.set(name, floats: [Float(index)], shape: [1])
        }
        for (index, name) in names.enumerated().reversed() {
            backward.set(name, floats: [Float(index)], shape: [1])
        }
        for index in 0..<10 { forward.metadata["key\(index)"] = "\(index)" }
        for index in (0..<10).reversed() { backward.metadata["key\(index)"] = "\(index)" }
        #expect(forward.serialized() == backward.serialized())
    }

    @Test func exactLayout() {
        var archive = SafeTensorsArchive(metadata: ["k": "v"])
        archive.set("b", floats: [2], shape: [1])
        archive.set("a", int64s: [1], shape: [])
        let bytes = archive.serialized()
        let json = #"{"__metadata__":{"k":"v"},"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        let padded = json + String(repeating: " ", count: (8 - json.utf8.count % 8) % 8)
        #expect(headerLength(of: bytes) == padded.utf8.count)
        #expect(Array(bytes[8..<(8 + padded.utf8.count)]) == Array(padded.utf8))
        #expect(Array(bytes[(8 + padded.utf8.count)...]) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40])
    }

    @Test func headerIsPaddedToMultipleOfEight() throws {
        for length in 0..<12 {
            var archive = SafeTensorsArchive()
            archive.set(String(repeating: "x", count: length + 1), floats: [1], shape: [1])
            let bytes = archive.serialized()
            let count = headerLength(of: bytes)
            #expect(count % 8 == 0)
            #expect(bytes[8 + count - 1] == UInt8(ascii: " ") || bytes[8 + count - 1] == UInt8(ascii: "}"))
            #expect(try SafeTensorsArchive(bytes: bytes) == archive)
        }
    }

    @Test func emptyArchive() throws {
        let bytes = SafeTensorsArchive().serialized()
        #expect(bytes == handMadeFile("{}      "))
        let loaded = try SafeTensorsArchive(bytes: bytes)
        #expect(loaded.entries.isEmpty && loaded.metadata.isEmpty)
    }

    @Test func readsHeadersFromOtherWritersLeniently() throws {
        // Whitespace (even before the "{", which the reference accepts too), any key order, escaped names, an empty __metadata__ and unknown entry fields are fine.
        let header = #" { "w\u00e9" : { "shape" : [ 1 ] , "data_offsets" : [ 0 , 4 ], "dtype" : "F32", "extra": null },"#
            + #" "__metadata__" : { } }  "#
        let archive = try SafeTensorsArchive(bytes: handMadeFile(header, buffer: [0, 0, 0x80, 0x3F]))
        #expect(try archive.floats("wé") == [1])
        #expect(archive.metadata.isEmpty)
    }

    @Test func replacingATensorKeepsOneEntry() throws {
        var archive = SafeTensorsArchive()
        archive.set("w", floats: [1, 2], shape: [2])
        archive.set("w", doubles: [3], shape: [1])
        #expect(archive.entries.count == 1)
        #expect(try archive.doubles("w") == [3])
    }

    @Test func accessorErrors() {
        var archive = SafeTensorsArchive()
        archive.set("w", doubles: [1], shape: [1])
        #expect(throws: SafeTensorsError.missingTensor(name: "v")) { try archive.floats("v") }
        #expect(throws: SafeTensorsError.missingTensor(name: "v")) { try archive.shape(of: "v") }
        #expect(throws: SafeTensorsError.wrongDType(name: "w", expected: .f32, actual: .f64)) { try archive.floats("w") }
        #expect(throws: SafeTensorsError.wrongDType(name: "w", expected: .i64, actual: .f64)) { try archive.int64s("w") }
    }

    @Test func tensorDataDigestCoversExactlyTheBuffer() {
        var archive = sampleArchive()
        let bytes = archive.serialized()
        let buffer = bytes[(8 + headerLength(of: bytes))...]
        #expect(archive.tensorDataDigest() == SHA256.hexDigest(of: buffer))
        let before = archive.tensorDataDigest()
        archive.metadata["note"] = "metadata does not change the digest"
        #expect(archive.tensorDataDigest() == before)
        archive.set("scale", floats: [43], shape: [])
        #expect(archive.tensorDataDigest() != before)
        #expect(SafeTensorsArchive().tensorDataDigest() == SHA256.hexDigest(of: [UInt8]()))
    }

    @Test func multiMegabyteCheckpointLoadsQuickly() throws {
        var archive = SafeTensorsArchive()
        let count = 2_000_000
        let values = (0..<count).map { Float($0 % 1000) * 0.001 }
        archive.set("big.a", floats: values, shape: [1000, count / 1000])
        archive.set("big.b", floats: values, shape: [count])
        try withTemporaryFolder { folder in
            let path = folder + "/big.safetensors"
            try archive.write(to: path)
            let clock = ContinuousClock()
            var loaded: [Float] = []
            let elapsed = try clock.measure {
                loaded = try SafeTensorsArchive(contentsOf: path).floats("big.a")
            }
            #expect(loaded == values)
            // Generous bound for a shared machine in a debug build; a per-byte loop over 16 MB takes far longer.
            #expect(elapsed < .seconds(5), "loading 16 MB took \(elapsed)")
        }
    }
}

// MARK: - Malformed input

/// One malformed file and the exact error the reader must throw for it.
struct MalformedFile: Sendable, CustomTestStringConvertible {
    static let source = "bad.safetensors"
    let name: String
    let bytes: [UInt8]
    let expected: SafeTensorsError
    var testDescription: String { name }

    init(_ name: String, _ bytes: [UInt8], _ expected: SafeTensorsError) {
        self.name = name
        self.bytes = bytes
        self.expected = expected
    }

    /// A header for one tensor `w` with the given JSON fields.
    static func tensorW(_ fields: String) -> String { #"{"w":{"# + fields + "}}" }

    static let all: [MalformedFile] = {
        let s = source
        var truncated = SafeTensorsArchive()
        truncated.set("a", floats: [1, 2], shape: [2])
        truncated.set("b", floats: [3, 4, 5], shape: [3])
        let whole = truncated.serialized()
        let deep = #"{"__metadata__":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        return [
            MalformedFile("too short", [1, 2, 3], .fileTooShort(source: s, byteCount: 3)),
            MalformedFile("empty file", [], .fileTooShort(source: s, byteCount: 0)),
            MalformedFile("header length beyond file", handMadeFile("{}", declaredLength: 1000),
                          .invalidHeaderLength(source: s, headerLength: 1000, fileSize: 10)),
            MalformedFile("header length absurd", handMadeFile("{}", declaredLength: UInt64.max),
                          .invalidHeaderLength(source: s, headerLength: UInt64.max, fileSize: 10)),
            MalformedFile("header not JSON", handMadeFile("{not json}"),
                          .invalidHeader(source: s, reason: "it is not valid JSON: expected a string key at header byte 1")),
            MalformedFile("header not an object", handMadeFile("[1, 2]"),
                          .invalidHeader(source: s, reason: "it is an array, not a JSON object")),
            MalformedFile("empty header", handMadeFile(""),
                          .invalidHeader(source: s, reason: "it is not valid JSON: unexpected end of JSON at header byte 0")),
            MalformedFile("header not UTF-8", handMadeFile([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]),
                          .invalidHeader(source: s, reason: "it is not valid UTF-8")),
            MalformedFile("header unterminated", handMadeFile(#"{"w":"#),
                          .invalidHeader(source: s, reason: "it is not valid JSON: unexpected end of JSON at header byte 5")),
            MalformedFile("garbage after header JSON", handMadeFile("{}x"),
                          .invalidHeader(source: s, reason: "it is not valid JSON: unexpected data after the JSON value at header byte 2")),
            MalformedFile("header nested too deep", handMadeFile(deep),
                          .invalidHeader(source: s, reason: "it is not valid JSON: nesting deeper than 64 levels at header byte 79")),
            MalformedFile("duplicate tensor name",
                          handMadeFile(#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
                                       buffer: [1, 2]),
                          .duplicateKey(source: s, key: "w")),
            MalformedFile("unknown dtype", handMadeFile(tensorW(#""dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]"#), buffer: [0]),
                          .unknownDType(source: s, tensor: "w", dtype: "F8_E4M3")),
            MalformedFile("entry not an object", handMadeFile(#"{"w":5}"#),
                          .invalidEntry(source: s, tensor: "w", reason: "is a number, not an object with dtype, shape and data_offsets")),
            MalformedFile("missing data_offsets", handMadeFile(tensorW(#""dtype":"F32","shape":[1]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "is missing \"data_offsets\"")),
            MalformedFile("missing dtype", handMadeFile(tensorW(#""shape":[1],"data_offsets":[0,4]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "is missing \"dtype\"")),
            MalformedFile("dtype not a string", handMadeFile(tensorW(#""dtype":4,"shape":[1],"data_offsets":[0,4]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "has a dtype that is a number, not a string")),
            MalformedFile("shape not an array", handMadeFile(tensorW(#""dtype":"F32","shape":"1","data_offsets":[0,4]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "has a shape that is a string, not an array")),
            MalformedFile("negative dimension", handMadeFile(tensorW(#""dtype":"F32","shape":[-1],"data_offsets":[0,4]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "has shape[0] that is negative")),
            MalformedFile("fractional dimension", handMadeFile(tensorW(#""dtype":"F32","shape":[1,1.5],"data_offsets":[0,4]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "has shape[1] that is not an integer")),
            MalformedFile("exponent dimension", handMadeFile(tensorW(#""dtype":"F32","shape":[1e0],"data_offsets":[0,4]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "has shape[0] that is not an integer")),
            MalformedFile("dimension not a number", handMadeFile(tensorW(#""dtype":"F32","shape":[null],"data_offsets":[0,4]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "has shape[0] that is null, not an integer")),
            MalformedFile("dimension beyond Int", handMadeFile(tensorW(#""dtype":"F32","shape":[123456789012345678901234567890],"data_offsets":[0,4]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "has shape[0] that is too large")),
            MalformedFile("shape product overflows", handMadeFile(tensorW(#""dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "has shape [4294967296, 4294967296, 16] with more elements than can be addressed")),
            MalformedFile("byte count overflows", handMadeFile(tensorW(#""dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "has shape [2305843009213693952] with more bytes than can be addressed")),
            MalformedFile("offsets not a pair", handMadeFile(tensorW(#""dtype":"F32","shape":[1],"data_offsets":[0]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "has data_offsets that are not an array of two integers")),
            MalformedFile("negative offset", handMadeFile(tensorW(#""dtype":"F32","shape":[1],"data_offsets":[-4,0]"#), buffer: [0, 0, 0, 0]),
                          .invalidEntry(source: s, tensor: "w", reason: "has data_offsets[0] that is negative")),
            MalformedFile("offsets begin after end", handMadeFile(tensorW(#""dtype":"F32","shape":[1],"data_offsets":[8,4]"#), buffer: [UInt8](repeating: 0, count: 8)),
                          .invalidOffsets(source: s, tensor: "w", begin: 8, end: 4)),
            MalformedFile("offsets out of range", handMadeFile(tensorW(#""dtype":"F32","shape":[2],"data_offsets":[0,8]"#), buffer: [0, 0, 0, 0]),
                          .offsetsOutOfRange(source: s, tensor: "w", end: 8, bufferSize: 4)),
            MalformedFile("truncated file", Array(whole.dropLast(3)),
                          .offsetsOutOfRange(source: s, tensor: "b", end: 20, bufferSize: 17)),
            MalformedFile("size mismatch", handMadeFile(tensorW(#""dtype":"F32","shape":[3],"data_offsets":[0,8]"#), buffer: [UInt8](repeating: 0, count: 8)),
                          .sizeMismatch(source: s, tensor: "w", expectedBytes: 12, actualBytes: 8)),
            MalformedFile("overlapping tensors",
                          handMadeFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                                       buffer: [UInt8](repeating: 0, count: 12)),
                          .overlappingTensors(source: s, first: "a", second: "b")),
            MalformedFile("hole between tensors",
                          handMadeFile(#"{"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                                       buffer: [UInt8](repeating: 0, count: 20)),
                          .unusedBytes(source: s, begin: 8, end: 12)),
            MalformedFile("hole at start", handMadeFile(tensorW(#""dtype":"U8","shape":[1],"data_offsets":[1,2]"#), buffer: [0, 0]),
                          .unusedBytes(source: s, begin: 0, end: 1)),
            MalformedFile("trailing bytes", handMadeFile(tensorW(#""dtype":"F32","shape":[2],"data_offsets":[0,8]"#), buffer: [UInt8](repeating: 0, count: 10)),
                          .unusedBytes(source: s, begin: 8, end: 10)),
            MalformedFile("non-string metadata", handMadeFile(#"{"__metadata__":{"name":"vae","epoch":3}}"#),
                          .invalidMetadata(source: s, key: "epoch", reason: "is a number, not a string")),
            MalformedFile("metadata not an object", handMadeFile(#"{"__metadata__":["epoch"]}"#),
                          .invalidMetadata(source: s, key: nil, reason: "\"__metadata__\" is an array")),
        ]
    }()
}

@Suite struct SafeTensorsMalformedInputTests {
    @Test(arguments: MalformedFile.all)
    func rejectsWithSpecificError(_ file: MalformedFile) {
        #expect(throws: file.expected) {
            _ = try SafeTensorsArchive(bytes: file.bytes, source: MalformedFile.source)
        }
        let message = file.expected.description
        #expect(message.contains(MalformedFile.source))
        #expect(!message.contains("\n"))
    }

    @Test func messagesStayOnOneLine() {
        let error = SafeTensorsError.invalidEntry(source: "a\nb.safetensors", tensor: "x\ny", reason: "is bad")
        #expect(!error.description.contains("\n"))
        #expect(error.description.contains(#"a\nb.safetensors"#))
    }

    /// Every prefix and many single-byte corruptions of a valid file either load or throw; none may trap.
    @Test func neverTrapsOnCorruptedInput() {
        let valid = sampleArchive().serialized()
        var outcomes = (loaded: 0, rejected: 0)
        func attempt(_ bytes: [UInt8]) {
            do {
                _ = try SafeTensorsArchive(bytes: bytes)
                outcomes.loaded += 1
            } catch is SafeTensorsError {
                outcomes.rejected += 1
            } catch {
                Issue.record("unexpected error type: \(error)")
            }
        }
        for length in 0..<valid.count { attempt(Array(valid.prefix(length))) }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let headerEnd = 8 + headerLength(of: valid)
        for _ in 0..<3000 {
            var corrupted = valid
            corrupted[next() % headerEnd] = UInt8(truncatingIfNeeded: next())
            attempt(corrupted)
        }
        #expect(outcomes.rejected > 0)
        #expect(outcomes.loaded + outcomes.rejected == valid.count + 3000)
    }
}

// MARK: - Interoperability with the reference implementation

/// Runs Tests/StorageTests/Python/check_safetensors.py with `/usr/bin/env python3`.
enum PythonReference {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Python/check_safetensors.py").path

    /// Runs the script with `arguments`; returns its exit status and combined stdout and stderr.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// Whether python3 with numpy and safetensors can run the script (probed once).
    static let isAvailable: Bool = {
        guard let result = try? run(["probe"]) else { return false }
        return result.status == 0
    }()
}

@Suite(.enabled(if: PythonReference.isAvailable,
                "python3 with numpy and safetensors is not importable (`python3 Tests/StorageTests/Python/check_safetensors.py probe` failed); run `pip install numpy safetensors` to enable the interop tests"))
struct SafeTensorsPythonInteropTests {
    /// Swift writes; Python's safetensors loads it and compares against values it recomputes.
    @Test func pythonReadsSwiftFile() throws {
        var archive = SafeTensorsArchive(metadata: [
            "purpose": "interop",
            "unicode": "ünïcødé ✓ 🎉",
            "escapes": "quote \" backslash \\ newline \n tab \t bell \u{07}",
            "empty": "",
        ])
        // Keep these formulas in sync with swift_tensors() in check_safetensors.py.
        archive.set("f32.matrix", floats: (0..<12).map { Float($0) * 0.5 - 3 }, shape: [3, 4])
        archive.set("f64.thirds", doubles: (0..<5).map { Double($0) / 3.0 }, shape: [5])
        archive.set("i64.big", int64s: (0..<6).map { Int64($0) * 1_000_000_007 - 3_000_000_000 }, shape: [2, 3])
        archive.set("u8.ramp", entry: entry(.u8, [7], (0..<7).map { UInt8(($0 * 37) % 256) }))
        archive.set("f16.half", entry: entry(.f16, [4], [0x00, 0x00, 0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38]))
        archive.set("bool.mask", entry: entry(.bool, [3], [1, 0, 1]))
        archive.set("scalar", floats: [42.5], shape: [])
        archive.set("empty", floats: [], shape: [0])
        archive.set("empty2d", int64s: [], shape: [2, 0])
        try withTemporaryFolder { folder in
            let path = folder + "/from-swift.safetensors"
            try archive.write(to: path)
            let result = try PythonReference.run(["check", path])
            #expect(result.status == 0, "check_safetensors.py rejected the Swift file: \(result.output)")
        }
    }

    /// Python's safetensors writes (with metadata); Swift reads it and checks the recomputed values.
    @Test func swiftReadsPythonFile() throws {
        try withTemporaryFolder { folder in
            let path = folder + "/from-python.safetensors"
            let result = try PythonReference.run(["write", path])
            try #require(result.status == 0, "check_safetensors.py could not write: \(result.output)")
            let archive = try SafeTensorsArchive(contentsOf: path)

            // Keep these in sync with python_tensors() and PYTHON_METADATA in check_safetensors.py.
            #expect(archive.metadata == ["writer": "python safetensors", "format": "np", "note": "päd ✓"])
            #expect(Set(archive.entries.keys) == ["py.f32", "py.f64", "py.i64", "py.u8", "py.scalar", "py.empty"])
            #expect(try archive.floats("py.f32") == (0..<24).map { Float($0) * 0.5 - 3 })
            #expect(try archive.shape(of: "py.f32") == [2, 3, 4])
            #expect(try archive.doubles("py.f64") == (0..<7).map { Double($0) / 3.0 })
            #expect(try archive.int64s("py.i64") == [-(1 << 62), 0, (1 << 62) + 5])
            #expect(archive.entries["py.u8"] == entry(.u8, [2, 5], (0..<10).map { UInt8(($0 * 37) % 256) }))
            #expect(try archive.floats("py.scalar") == [7.25])
            #expect(try archive.shape(of: "py.scalar") == [])
            #expect(try archive.floats("py.empty") == [])
            #expect(try archive.shape(of: "py.empty") == [0, 3])

            // Our re-serialization of Python's file is itself readable and equal.
            #expect(try SafeTensorsArchive(bytes: archive.serialized()) == archive)
        }
    }

    /// The reference loader also rejects every file in the malformed-input table.
    @Test func pythonRejectsTheMalformedFiles() throws {
        try withTemporaryFolder { folder in
            var paths: [String] = []
            for (index, file) in MalformedFile.all.enumerated() {
                let path = folder + "/\(index)-" + file.name.replacingOccurrences(of: " ", with: "-") + ".safetensors"
                try Data(file.bytes).write(to: URL(fileURLWithPath: path))
                paths.append(path)
            }
            let result = try PythonReference.run(["reject"] + paths)
            #expect(result.status == 0, "the reference accepted files the Swift reader rejects: \(result.output)")
        }
    }
}

@Suite struct HeaderDigestTests {
    /// The header digest covers metadata, tensor names, dtypes and shapes (not its own entry), and only the header.
    @Test func headerDigestChangesWithEveryHeaderFieldButItself() {
        var archive = SafeTensorsArchive(metadata: ["a": "1"])
        archive.set("w", floats: [1, 2, 3, 4], shape: [2, 2])
        let digest = archive.headerDigest()
        #expect(digest.count == 64)
        var sealed = archive
        sealed.metadata[SafeTensorsArchive.headerDigestKey] = digest
        #expect(sealed.headerDigest() == digest)
        var values = archive
        values.set("w", floats: [5, 6, 7, 8], shape: [2, 2])
        #expect(values.headerDigest() == digest, "tensor values are the tensor digest's business")
        var changes: [SafeTensorsArchive] = []
        var metadata = archive; metadata.metadata["a"] = "2"; changes.append(metadata)
        var key = archive; key.metadata["b"] = "1"; changes.append(key)
        var shape = archive; shape.set("w", floats: [1, 2, 3, 4], shape: [4]); changes.append(shape)
        var dtype = archive; dtype.set("w", doubles: [1, 2, 3, 4], shape: [2, 2]); changes.append(dtype)
        var name = SafeTensorsArchive(metadata: ["a": "1"]); name.set("v", floats: [1, 2, 3, 4], shape: [2, 2]); changes.append(name)
        for changed in changes { #expect(changed.headerDigest() != digest) }
    }
}
