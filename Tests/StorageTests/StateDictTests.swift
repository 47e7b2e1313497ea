import Foundation
import Testing
import TestSupport
@testable import Storage

/// The checkpoints of Tests/StorageTests/Python/write_torch_checkpoints.py, written once per test process by
/// torch.save itself. The script runs through scripts/torch-python, i.e. Debian's python3-torch 1.13 that
/// `scripts/install-deps --torch` installs (scripts/test and CI run it first); without torch these tests fail
/// with that advice rather than pass silently.
enum TorchCheckpoints {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The folder holding the files, or why they could not be written.
    static let folder: Result<String, ScriptFailure> = {
        let folder: String
        do { folder = try TemporaryFolder.forProcess(prefix: "torch-checkpoints") } catch {
            return .failure(ScriptFailure(message: "cannot make a temporary folder: \(error)"))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: repository + "/scripts/torch-python")
        process.arguments = [repository + "/Tests/StorageTests/Python/write_torch_checkpoints.py", folder]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return .failure(ScriptFailure(message: "cannot run scripts/torch-python: \(error)")) }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return .failure(ScriptFailure(message: "write_torch_checkpoints.py failed (run scripts/install-deps --torch): \(output)"))
        }
        return .success(folder)
    }()

    struct ScriptFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    static func path(_ name: String) throws -> String { try folder.get() + "/" + name }
}

/// The StateDictError (or ZipError / SafeTensorsError) `body` throws, as its one-line message.
func refusal(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    do {
        try body()
        Issue.record("expected the file to be refused, but it was read", sourceLocation: sourceLocation)
    } catch let error as StateDictError {
        #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        return error.description
    } catch let error as ZipError {
        #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        return error.description
    } catch let error as SafeTensorsError {
        #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        return error.description
    } catch {
        Issue.record("unexpected error type \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite(.tags(.slow), .skippedWhenFast) struct StateDictTorchTests {
    static let stateFiles = ["state.zip.pt", "state.legacy.pt", "state.zip-p4.pt", "state.legacy-p4.pt", "wrapped.zip.pt", "wrapped.legacy.pt"]

    /// Every tensor equals, byte for byte, what safetensors.torch wrote of `v.contiguous()` in the same script.
    @Test(arguments: stateFiles)
    func readsWhatTorchSaveWrote(_ file: String) throws {
        let expected = try SafeTensorsArchive(contentsOf: TorchCheckpoints.path("expected.safetensors")).entries
        let tensors = try StateDict.read(contentsOf: TorchCheckpoints.path(file))
        #expect(Set(tensors.keys) == Set(expected.keys))
        for (name, entry) in expected {
            #expect(tensors[name] == entry, "\(file): \(name)")
        }
        // A few values spelled out, independent of the Python side's safetensors writer.
        let weight = try #require(tensors["Conv2d_1a_3x3.conv.weight"])
        #expect(weight.dtype == .f32 && weight.shape == [4, 3, 3, 3])
        #expect(tensors["Mixed_7c.branch_pool.conv.weight"]?.shape == [2, 4, 1, 1])
        #expect(tensors["fc.weight"]?.shape == [5, 8])
        #expect(tensors["Conv2d_1a_3x3.bn.running_mean"]?.shape == [4])
        let tracked = try #require(tensors["Mixed_7c.branch_pool.bn.num_batches_tracked"])
        #expect(tracked.dtype == .i64 && tracked.shape == [])
        #expect(tracked.bytes == withUnsafeBytes(of: Int64(1_234_567_890_123).littleEndian) { Array($0) })
        // base = arange(24).reshape(4, 6) * 0.25 - 2; transposed is base.t(), column is base[:, 3].
        let transposed = try #require(tensors["extra.transposed"])
        #expect(transposed.shape == [6, 4])
        let values = transposed.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let expectedValues: [Float] = (0..<24).map { (i: Int) -> Float in Float((i % 4) * 6 + i / 4) * 0.25 - 2 }
        #expect(values == expectedValues)
        let column = try #require(tensors["extra.column"])
        let columnValues: [Float] = [3, 9, 15, 21].map { (i: Int) -> Float in Float(i) * 0.25 - 2 }
        #expect(column.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } == columnValues)
        let doubles = try #require(tensors["extra.float64"])
        #expect(doubles.dtype == .f64)
        #expect(doubles.bytes.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) } == [1.0 / 3.0, -2.5, 1e-300, .pi])
        #expect(tensors["extra.shared_tail"]?.shape == [2, 2])
        #expect(tensors["extra.empty"] == SafeTensorsEntry(dtype: .f32, shape: [0, 3], bytes: []))
    }

    @Test func recognisesTheFormatByItsFirstBytes() throws {
        func format(_ name: String) throws -> StateDict.Format? {
            StateDict.format(of: try SafeTensorsArchive.readFile(TorchCheckpoints.path(name)))
        }
        #expect(try format("state.zip.pt") == .pytorchZip)
        #expect(try format("state.legacy.pt") == .pytorchLegacy)
        #expect(try format("state.legacy-p4.pt") == .pytorchLegacy)
        #expect(try format("expected.safetensors") == .safetensors)
        #expect(StateDict.format(of: Array("hello world, not a checkpoint".utf8)) == nil)
        // A safetensors header of 128 bytes: its length prefix starts with 0x80, PROTO's byte.
        var archive = SafeTensorsArchive()
        var nameLength = 1
        while true {
            archive = SafeTensorsArchive()
            archive.set(String(repeating: "w", count: nameLength), floats: [1, 2], shape: [2])
            if archive.serialized()[0] == 0x80 { break }
            nameLength += 1
        }
        #expect(StateDict.format(of: archive.serialized()) == .safetensors)
        #expect(try StateDict.read(bytes: archive.serialized()) == archive.entries)
        // The safetensors path gives the archive's entries unchanged.
        #expect(try StateDict.read(contentsOf: TorchCheckpoints.path("expected.safetensors"))
                == SafeTensorsArchive(contentsOf: TorchCheckpoints.path("expected.safetensors")).entries)
    }

    @Test(arguments: ["module.zip.pt", "module.legacy.pt"])
    func aPickledModuleIsRefusedWithTheFix(_ file: String) throws {
        let message = refusal { _ = try StateDict.read(contentsOf: TorchCheckpoints.path(file)) }
        #expect(message?.contains("pickled nn.Module") == true, "\(message ?? "")")
        #expect(message?.contains("model.state_dict()") == true)
        #expect(message?.contains("__main__.TinyInception") == true)
    }

    @Test func aBareTensorIsNotAStateDict() throws {
        let message = refusal { _ = try StateDict.read(contentsOf: TorchCheckpoints.path("tensor.zip.pt")) }
        #expect(message?.contains("not a state dict: the file holds a tensor") == true, "\(message ?? "")")
    }

    @Test(arguments: ["state.zip.pt", "state.legacy.pt"])
    func everyTruncationIsRefused(_ file: String) throws {
        let bytes = try SafeTensorsArchive.readFile(TorchCheckpoints.path(file))
        for length in stride(from: 0, to: bytes.count, by: 13) + [bytes.count - 1] {
            let message = refusal { _ = try StateDict.read(bytes: Array(bytes.prefix(length)), source: "cut.pt") }
            #expect(message?.hasPrefix("cut.pt: ") == true, "\(length) bytes: \(message ?? "accepted")")
        }
    }

    /// Flipped bytes anywhere: the reader refuses or reads, never traps; inside the zip's tensor data the CRC-32
    /// names the entry.
    @Test func garbledBytesAreRefusedOrRead() throws {
        for file in ["state.zip.pt", "state.legacy.pt"] {
            let bytes = try SafeTensorsArchive.readFile(TorchCheckpoints.path(file))
            var refused = 0
            for position in stride(from: 0, to: bytes.count, by: 7) {
                var garbled = bytes
                garbled[position] ^= 0x5A
                do { _ = try StateDict.read(bytes: garbled, source: "g.pt") } catch { refused += 1 }
            }
            #expect(refused > 0, "\(file)")
        }
        var bytes = try SafeTensorsArchive.readFile(TorchCheckpoints.path("state.zip.pt"))
        let archive = try ZipArchive(bytes: bytes)
        let data = try #require(archive.entries.first { $0.name.hasSuffix("/data/0") })
        bytes[data.dataOffset] ^= 1
        let message = refusal { _ = try StateDict.read(bytes: bytes, source: "g.pt") }
        #expect(message == ZipError.checksumMismatch(source: "g.pt", entry: data.name).description)
    }

    /// The garbled legacy stream: a storage count that disagrees, and trailing bytes.
    @Test func legacyStorageSizesAreChecked() throws {
        let bytes = try SafeTensorsArchive.readFile(TorchCheckpoints.path("state.legacy.pt"))
        let message = refusal { _ = try StateDict.read(bytes: bytes + [0], source: "l.pt") }
        #expect(message == "l.pt: corrupt PyTorch checkpoint: 1 bytes follow the last storage")
    }
}

/// Hand-built pickles: what a malicious or broken file could hold. Each is wrapped in a zip archive as data.pkl
/// (the ZIP layer is not under test here) and must be refused with one line naming what was refused.
@Suite(.tags(.slow), .skippedWhenFast) struct StateDictRefusalTests {
    static func zipped(_ pickle: [UInt8]) -> [UInt8] {
        ZipArchive.stored([("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))])
    }

    static func message(_ pickle: [UInt8]) -> String? {
        refusal { _ = try StateDict.read(bytes: zipped(pickle), source: "evil.pt") }
    }

    static func text(_ string: String) -> [UInt8] { Array(string.utf8) }

    @Test func globalOsSystemIsRefused() {
        // c os\nsystem\n  X 'echo hi'  TUPLE1  REDUCE  STOP: what `pickle.dumps` of a __reduce__ exploit gives.
        let pickle: [UInt8] = [0x80, 2] + Self.text("cos\nsystem\n") + [0x58, 7, 0, 0, 0] + Self.text("echo hi") + [0x85, 0x52, 0x2E]
        let message = Self.message(pickle)
        #expect(message?.contains("global os.system at byte 2") == true, "\(message ?? "")")
        #expect(message?.contains("executes nothing") == true)
    }

    @Test func stackGlobalBuiltinsEvalIsRefused() {
        // Protocol 4: SHORT_BINUNICODE 'builtins', SHORT_BINUNICODE 'eval', STACK_GLOBAL.
        let pickle: [UInt8] = [0x80, 4, 0x8C, 8] + Self.text("builtins") + [0x8C, 4] + Self.text("eval") + [0x93, 0x8C, 1, 0x31, 0x85, 0x52, 0x2E]
        let message = Self.message(pickle)
        #expect(message?.contains("global builtins.eval") == true, "\(message ?? "")")
    }

    @Test func reduceOfAnythingButTheKnownFunctionsIsRefused() {
        // A storage class is an allowed global, but calling it is not.
        let storageCall: [UInt8] = [0x80, 2] + Self.text("ctorch\nFloatStorage\n") + [0x29, 0x52, 0x2E]
        let message = Self.message(storageCall)
        #expect(message?.contains("REDUCE (0x52): calls torch.FloatStorage, which this reader does not evaluate") == true, "\(message ?? "")")
        // A string in the callable's place.
        let stringCall: [UInt8] = [0x80, 2, 0x58, 1, 0, 0, 0, 0x78, 0x29, 0x52, 0x2E]
        #expect(Self.message(stringCall)?.contains("calls a str, which is not a known function") == true)
        // OrderedDict with arguments (it would iterate them).
        let orderedDictWithArguments: [UInt8] = [0x80, 2] + Self.text("ccollections\nOrderedDict\n") + [0x4B, 1, 0x85, 0x52, 0x2E]
        #expect(Self.message(orderedDictWithArguments)?.contains("collections.OrderedDict is called with 1 arguments") == true)
    }

    @Test(arguments: [
        (UInt8(0x81), "NEWOBJ (0x81)"), (0x92, "NEWOBJ_EX (0x92)"), (0x69, "INST (0x69)"), (0x50, "PERSID (0x50)"),
        (0x8F, "EMPTY_SET (0x8f)"), (0xFF, "unknown opcode 0xff"), (0x00, "unknown opcode 0x00"),
    ])
    func unknownAndUnneededOpcodesAreRefused(_ code: UInt8, _ name: String) {
        let message = Self.message([0x80, 2, 0x4E, code, 0x2E])
        #expect(message == "evil.pt: the pickle uses \(name) at byte 3, which this reader does not execute (state dicts do not need it); the file is corrupt, or not a plain state dict")
    }

    @Test func malformedPicklesAreRefused() {
        #expect(Self.message([0x80, 2, 0x2E])?.contains("STOP (0x2e): 0 values on the stack, not one") == true)
        #expect(Self.message([0x80, 2, 0x4E])?.contains("the file ends inside archive/data.pkl") == true)
        #expect(Self.message([0x80, 2, 0x68, 9, 0x2E])?.contains("BINGET (0x68): memo entry 9 was never stored") == true)
        #expect(Self.message([0x80, 2, 0x61, 0x2E])?.contains("APPEND (0x61): the stack is empty") == true)
        #expect(Self.message([0x80, 9, 0x4E, 0x2E])?.contains("protocol 9 is not read") == true)
        #expect(Self.message([0x80, 2, 0x4E, 0x2E, 0x4E])?.contains("1 bytes after its STOP opcode") == true)
        // Not a dict at the top, and a dict holding no tensors.
        #expect(Self.message([0x80, 2, 0x4B, 5, 0x2E])?.contains("not a state dict: the file holds an int") == true)
        let dictOfInts: [UInt8] = [0x80, 2, 0x7D, 0x58, 1, 0, 0, 0, 0x61, 0x4B, 3, 0x73, 0x2E]
        #expect(Self.message(dictOfInts)?.contains(#"its dict {"a": an int} is neither a dict of tensors nor holds one"#) == true)
        // A complex storage: a supported global family, an unsupported element type.
        let complex: [UInt8] = [0x80, 2] + Self.text("ctorch\nComplexFloatStorage\n") + [0x2E]
        #expect(Self.message(complex)?.contains("element type complex64") == true)
    }

    @Test func aTensorReachingPastItsStorageIsRefused() {
        // {'w': _rebuild_tensor_v2(storage('0', FloatStorage, numel 2), offset 1, size (2,), stride (1,), False, OrderedDict())}
        var pickle: [UInt8] = [0x80, 2, 0x7D, 0x58, 1, 0, 0, 0, 0x77] + Self.text("ctorch._utils\n_rebuild_tensor_v2\n")
        pickle += [0x28, 0x28, 0x58, 7, 0, 0, 0] + Self.text("storage") + Self.text("ctorch\nFloatStorage\n")
        pickle += [0x58, 1, 0, 0, 0, 0x30, 0x58, 3, 0, 0, 0] + Self.text("cpu") + [0x4B, 2, 0x74, 0x51]
        pickle += [0x4B, 1, 0x4B, 2, 0x85, 0x4B, 1, 0x85, 0x89] + Self.text("ccollections\nOrderedDict\n") + [0x29, 0x52]
        pickle += [0x74, 0x52, 0x73, 0x2E]
        let data = ZipArchive.stored([("archive/data.pkl", pickle), ("archive/data/0", [UInt8](repeating: 0, count: 8))])
        let message = refusal { _ = try StateDict.read(bytes: data, source: "s.pt") }
        #expect(message == "s.pt: corrupt PyTorch checkpoint: tensor \"w\" (size [2], stride [1], offset 1) reaches element 2 of a storage of 2")
        // The same with offset 0 is a valid two-element tensor.
        var valid = pickle
        let offsetIndex = valid.indices.first { valid[$0] == 0x51 }! + 2
        valid[offsetIndex] = 0
        let tensors = try? StateDict.read(bytes: ZipArchive.stored([("archive/data.pkl", valid), ("archive/data/0", [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40])]))
        #expect(tensors == ["w": SafeTensorsEntry(dtype: .f32, shape: [2], bytes: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40])])
    }

    @Test func unrecognisedBytesSayWhatIsAccepted() {
        let message = refusal { _ = try StateDict.read(bytes: Array("GIF89a..".utf8), source: "x.bin") }
        #expect(message == "x.bin: not a safetensors file, PyTorch zip archive or PyTorch legacy pickle (it starts with 47 49 46 38 39 61 2e 2e); pass a file written by torch.save or safetensors")
        let legacyNoMagic = refusal { _ = try StateDict.read(bytes: [0x80, 2, 0x4B, 1, 0x2E], source: "p.pkl") }
        #expect(legacyNoMagic?.contains("not with PyTorch's magic number") == true)
    }
}
