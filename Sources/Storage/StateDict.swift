// Reading PyTorch state dicts (torch.save of model.state_dict()) as named tensors, in either of PyTorch's
// serialization formats, or the same tensors as a safetensors file:
//
//   zip archive (torch >= 1.6 default):  <prefix>/data.pkl (pickle protocol 2, storages as persistent ids),
//                                        <prefix>/data/<key> (each storage's raw bytes), <prefix>/byteorder
//   legacy stream (_use_new_zipfile_serialization=False, and every file before torch 1.6):
//                                        pickle(magic 0x1950a86a20f9469cfc6c), pickle(1001), pickle(sys_info),
//                                        main pickle, pickle(sorted storage keys), then per key:
//                                        int64 element count + the storage's little-endian bytes
//
// Provenance: torch/serialization.py (_save, _legacy_save, _load, _legacy_load) of PyTorch 1.13.

/// A state dict's tensors by name, from a PyTorch checkpoint or a safetensors file.
///
/// A wrapping dict such as `{"state_dict": {...}, "epoch": 3}` is unwrapped when exactly one of its values is
/// a dict of tensors (its key is then irrelevant: `state_dict`, `model`, ...); with several candidates the
/// error names them. A pickled `nn.Module`, a TorchScript archive or a bare tensor is refused with what to save instead.
public enum StateDict {
    /// The kinds of file ``read(bytes:source:)`` recognises by their first bytes.
    public enum Format: String, Sendable, CaseIterable {
        case safetensors = "safetensors"
        case pytorchZip = "PyTorch zip archive"
        case pytorchLegacy = "PyTorch legacy pickle stream"
    }

    /// The legacy format's magic number, 0x1950a86a20f9469cfc6c, as LONG1 bytes (little-endian).
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// The format of a file from its first bytes: an 8-byte little-endian length that fits the file followed by `{`
    /// (after optional spaces) -> safetensors (tested first: a header length such as 128 starts with the byte 0x80);
    /// `PK` -> zip; a pickle PROTO opcode -> legacy; nil otherwise.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.count >= 9 {
            let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << UInt64(8 * $1) }
            var index = 8
            while index < min(bytes.count, 4096), bytes[index] == 0x20 { index += 1 }
            if length <= UInt64(bytes.count - 8), index < bytes.count, bytes[index] == UInt8(ascii: "{") { return .safetensors }
        }
        if ZipArchive.hasMagic(bytes) { return .pytorchZip }
        if bytes.first == 0x80 { return .pytorchLegacy }
        return nil
    }

    /// Reads the state dict in the file at `path`; see ``read(bytes:source:)``.
    ///
    /// - Throws: ``FileError/cannotRead(path:reason:)``, ``StateDictError``, ``ZipError`` or ``SafeTensorsError``.
    public static func read(contentsOf path: String) throws -> [String: SafeTensorsEntry] {
        try read(bytes: SafeTensorsArchive.readFile(path), source: path)
    }

    /// The tensors of a safetensors file, a PyTorch zip archive or a legacy PyTorch pickle stream, each as its
    /// dtype, shape and contiguous row-major little-endian bytes (non-contiguous tensors are gathered through
    /// their strides; tensors sharing a storage each get their own copy).
    ///
    /// - Throws: ``StateDictError`` (what the pickle holds or refuses), ``ZipError`` (archive structure, CRC-32)
    ///   or ``SafeTensorsError``; every message is one line naming `source`.
    public static func read(bytes: [UInt8], source: String = "<memory>") throws -> [String: SafeTensorsEntry] {
        switch format(of: bytes) {
        case .safetensors?:
            return try SafeTensorsArchive(bytes: bytes, source: source).entries
        case .pytorchZip?:
            return try readZip(ZipArchive(bytes: bytes, source: source), source: source)
        case .pytorchLegacy?:
            return try readLegacy(bytes, source: source)
        case nil:
            if bytes.count >= 262, Array(bytes[257..<262]) == Array("ustar".utf8) {
                throw StateDictError.unsupported(source: source, reason: "it is a tar archive, the format of PyTorch before 0.4; load it with an old PyTorch and save it again")
            }
            throw StateDictError.unrecognized(source: source, firstBytes: Array(bytes.prefix(8)))
        }
    }

    // MARK: The two PyTorch formats

    private static func readZip(_ archive: ZipArchive, source: String) throws -> [String: SafeTensorsEntry] {
        let pickles = archive.entries.filter { $0.name.hasSuffix("/data.pkl") && $0.name.split(separator: "/", omittingEmptySubsequences: false).count == 2 }
        guard pickles.count == 1, let pickle = pickles.first else {
            if archive.entries.contains(where: { $0.name.hasSuffix("/constants.pkl") || $0.name.contains("/code/") }) {
                throw StateDictError.unsupported(source: source, reason: "it is a TorchScript archive (torch.jit.save); in PyTorch, torch.save(model.state_dict(), FILE) instead")
            }
            throw StateDictError.unsupported(source: source, reason: pickles.isEmpty
                ? "the zip archive has no <name>/data.pkl, so it is not a torch.save checkpoint"
                : "the zip archive has \(pickles.count) <name>/data.pkl entries, not one")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        if archive.entry(named: prefix + "constants.pkl") != nil {
            throw StateDictError.unsupported(source: source, reason: "it is a TorchScript archive (torch.jit.save); in PyTorch, torch.save(model.state_dict(), FILE) instead")
        }
        if archive.entry(named: prefix + "byteorder") != nil {
            let order = try archive.contents(of: prefix + "byteorder")
            guard order == Array("little".utf8) else {
                throw StateDictError.unsupported(source: source, reason: "its byteorder entry is \(String(decoding: order.prefix(16), as: UTF8.self).debugDescription), not \"little\"; save it on a little-endian machine")
            }
        }
        let pickleBytes = try archive.contents(of: pickle.name)
        var machine = PickleMachine(bytes: pickleBytes, start: 0, allowsPersistentIDs: true)
        let (top, end) = try run(&machine, source: source, part: pickle.name, hintBytes: pickleBytes)
        guard end == pickleBytes.count else {
            throw StateDictError.malformed(source: source, reason: "\(pickle.name) has \(pickleBytes.count - end) bytes after its STOP opcode")
        }
        let named = try tensors(in: top, machine: machine, source: source)
        var storageBytes: [String: [UInt8]] = [:]
        let storages = try consistentStorages(machine, source: source)
        for (key, storage) in storages {
            let name = prefix + "data/" + key
            guard archive.entry(named: name) != nil else {
                throw StateDictError.malformed(source: source, reason: "storage \(key.debugDescription) has no entry \(name)")
            }
            let data = try archive.contents(of: name)
            let expected = storage.elementCount * storage.scalarType.safeTensorsDType.byteSize
            guard data.count == expected else {
                throw StateDictError.malformed(source: source, reason: "entry \(name) holds \(data.count) bytes, but \(storage.elementCount) \(storage.scalarType.rawValue) elements need \(expected)")
            }
            storageBytes[key] = data
        }
        return try materialize(named, machine: machine, storageBytes: storageBytes, budget: 8 * pickleBytes.count + archive.entries.reduce(0) { $0 + 8 * $1.compressedSize } + (64 << 20), source: source)
    }

    private static func readLegacy(_ bytes: [UInt8], source: String) throws -> [String: SafeTensorsEntry] {
        // The three header pickles: magic number, protocol version, sys_info.
        var header = PickleMachine(bytes: bytes, start: 0, allowsPersistentIDs: false)
        let (magic, afterMagic) = try run(&header, source: source, part: "the magic-number pickle", hintBytes: [])
        guard magic == .bigInt(legacyMagic) else {
            throw StateDictError.malformed(source: source, reason: "it starts with a pickle but not with PyTorch's magic number; it is not a torch.save file")
        }
        var versionMachine = PickleMachine(bytes: bytes, start: afterMagic, allowsPersistentIDs: false)
        let (version, afterVersion) = try run(&versionMachine, source: source, part: "the protocol-version pickle", hintBytes: [])
        guard version == .int(1001) else {
            throw StateDictError.unsupported(source: source, reason: "its legacy protocol version is not 1001 (it is \(version.typeName)); save it again with torch.save")
        }
        var infoMachine = PickleMachine(bytes: bytes, start: afterVersion, allowsPersistentIDs: false)
        let (info, afterInfo) = try run(&infoMachine, source: source, part: "the sys_info pickle", hintBytes: [])
        if let dict = infoMachine.dict(info), let index = dict.keys.firstIndex(of: .string("little_endian")), dict.values[index] != .bool(true) {
            throw StateDictError.unsupported(source: source, reason: "it was saved on a big-endian machine; save it on a little-endian one")
        }

        var machine = PickleMachine(bytes: bytes, start: afterInfo, allowsPersistentIDs: true)
        let (top, afterMain) = try run(&machine, source: source, part: "the main pickle", hintBytes: bytes)
        let named = try tensors(in: top, machine: machine, source: source)

        var keysMachine = PickleMachine(bytes: bytes, start: afterMain, allowsPersistentIDs: false)
        let (keysValue, dataStart) = try run(&keysMachine, source: source, part: "the storage-key list", hintBytes: [])
        guard let keyValues = keysMachine.list(keysValue) else {
            throw StateDictError.malformed(source: source, reason: "the storage-key list is \(keysValue.typeName), not a list")
        }
        let storages = try consistentStorages(machine, source: source)
        var storageBytes: [String: [UInt8]] = [:]
        var cursor = dataStart
        for keyValue in keyValues {
            guard case let .string(key) = keyValue else {
                throw StateDictError.malformed(source: source, reason: "the storage-key list holds \(keyValue.typeName), not a str")
            }
            guard let storage = storages[key] else {
                throw StateDictError.malformed(source: source, reason: "the storage-key list names \(key.debugDescription), which no tensor uses")
            }
            guard storageBytes[key] == nil else {
                throw StateDictError.malformed(source: source, reason: "the storage-key list names \(key.debugDescription) twice")
            }
            guard bytes.count - cursor >= 8 else { throw StateDictError.truncated(source: source, what: "storage \(key.debugDescription)") }
            let count = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[cursor + $1]) << UInt64(8 * $1) }
            guard count == UInt64(storage.elementCount) else {
                throw StateDictError.malformed(source: source, reason: "storage \(key.debugDescription) records \(count) elements, its tensors \(storage.elementCount)")
            }
            let byteCount = storage.elementCount * storage.scalarType.safeTensorsDType.byteSize
            guard bytes.count - cursor - 8 >= byteCount else { throw StateDictError.truncated(source: source, what: "storage \(key.debugDescription)") }
            storageBytes[key] = Array(bytes[(cursor + 8)..<(cursor + 8 + byteCount)])
            cursor += 8 + byteCount
        }
        if let missing = storages.keys.sorted().first(where: { storageBytes[$0] == nil }) {
            throw StateDictError.malformed(source: source, reason: "storage \(missing.debugDescription) is used by a tensor but missing from the storage-key list")
        }
        guard cursor == bytes.count else {
            throw StateDictError.malformed(source: source, reason: "\(bytes.count - cursor) bytes follow the last storage")
        }
        return try materialize(named, machine: machine, storageBytes: storageBytes, budget: 8 * bytes.count + (64 << 20), source: source)
    }

    // MARK: From pickled values to tensors

    /// Runs a pickle, turning its failures into one-line errors; `hintBytes` (the pickle) is searched for the
    /// attribute names of a pickled nn.Module when a global is refused.
    private static func run(_ machine: inout PickleMachine, source: String, part: String, hintBytes: [UInt8]) throws -> (PickleValue, Int) {
        do {
            return try machine.run()
        } catch let failure as PickleFailure {
            switch failure {
            case let .truncated(offset):
                throw StateDictError.truncated(source: source, what: "\(part) (at byte \(offset))")
            case let .refusedOpcode(offset, code):
                throw StateDictError.refusedOpcode(source: source, opcode: PickleMachine.describe(code), offset: offset)
            case let .refusedGlobal(offset, name):
                let module = contains(hintBytes, "_parameters") && contains(hintBytes, "_modules")
                if let type = TorchScalarType.unsupportedStorageClasses[String(name.dropFirst("torch.".count))], name.hasPrefix("torch.") {
                    throw StateDictError.unsupportedDType(source: source, storageClass: name, dtype: type)
                }
                throw StateDictError.refusedGlobal(source: source, name: name, offset: offset, isModule: module)
            case let .malformed(offset, reason):
                throw StateDictError.malformed(source: source, reason: "\(part), byte \(offset): \(reason)")
            }
        }
    }

    private static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let pattern = Array(needle.utf8)
        guard haystack.count >= pattern.count, let first = pattern.first else { return false }
        var index = 0
        while index <= haystack.count - pattern.count {
            if haystack[index] == first, Array(haystack[index..<(index + pattern.count)]) == pattern { return true }
            index += 1
        }
        return false
    }

    /// The state dict's (name, tensor index) pairs: the top-level dict, or its one value that is a dict of tensors.
    private static func tensors(in top: PickleValue, machine: PickleMachine, source: String) throws -> [(String, Int)] {
        func tensorEntries(_ dict: PickleDict) -> [(String, Int)]? {
            var result: [(String, Int)] = []
            for (key, value) in zip(dict.keys, dict.values) {
                guard case let .string(name) = key, case let .tensor(tensor) = value else { return nil }
                result.append((name, tensor))
            }
            return result
        }
        guard let dict = machine.dict(top) else {
            let advice = top.typeName == "a tensor" ? "save {\"name\": tensor} or model.state_dict()" : "save model.state_dict()"
            throw StateDictError.notAStateDict(source: source, reason: "the file holds \(top.typeName), not a dict of tensors; in PyTorch, \(advice)")
        }
        if let entries = tensorEntries(dict) { return entries }
        var candidates: [(String, [(String, Int)])] = []
        for (key, value) in zip(dict.keys, dict.values) {
            if case let .string(name) = key, let inner = machine.dict(value), !inner.keys.isEmpty, let entries = tensorEntries(inner) {
                candidates.append((name, entries))
            }
        }
        if candidates.count == 1 { return candidates[0].1 }
        let keys = zip(dict.keys, dict.values).prefix(8).map { key, value -> String in
            let name: String
            if case let .string(text) = key { name = text.debugDescription } else { name = "<\(key.typeName)>" }
            return "\(name): \(value.typeName)"
        }.joined(separator: ", ") + (dict.keys.count > 8 ? ", ..." : "")
        if candidates.isEmpty {
            throw StateDictError.notAStateDict(source: source, reason: "its dict {\(keys)} is neither a dict of tensors nor holds one; in PyTorch, save model.state_dict()")
        }
        throw StateDictError.notAStateDict(source: source, reason: "it holds several state dicts (\(candidates.map { $0.0.debugDescription }.joined(separator: ", "))); in PyTorch, save the one wanted, e.g. torch.save(checkpoint[\(candidates[0].0.debugDescription)], FILE)")
    }

    /// Every storage key with one (type, size); a key seen with two different ones is refused.
    private static func consistentStorages(_ machine: PickleMachine, source: String) throws -> [String: PickledStorage] {
        var storages: [String: PickledStorage] = [:]
        for storage in machine.storages {
            if let seen = storages[storage.key] {
                guard seen.scalarType == storage.scalarType, seen.elementCount == storage.elementCount else {
                    throw StateDictError.malformed(source: source, reason: "storage \(storage.key.debugDescription) is referenced as \(seen.elementCount) \(seen.scalarType.rawValue) and as \(storage.elementCount) \(storage.scalarType.rawValue)")
                }
            } else {
                var root = storage
                root.view = nil
                storages[storage.key] = root
            }
        }
        return storages
    }

    /// Gathers each tensor's elements from its storage through offset and strides into row-major bytes.
    /// `budget` bounds the bytes produced (shared storages and zero strides can expand a small file).
    private static func materialize(_ named: [(String, Int)], machine: PickleMachine, storageBytes: [String: [UInt8]],
                                    budget: Int, source: String) throws -> [String: SafeTensorsEntry] {
        var result: [String: SafeTensorsEntry] = [:]
        var produced = 0
        for (name, index) in named {
            let tensor = machine.tensors[index]
            let storage = machine.storages[tensor.storage]
            let dtype = storage.scalarType.safeTensorsDType
            let size = dtype.byteSize
            guard let data = storageBytes[storage.key] else {
                throw StateDictError.malformed(source: source, reason: "tensor \(name.debugDescription) uses storage \(storage.key.debugDescription), which the file does not hold")
            }
            let (base, available) = storage.view ?? (0, storage.elementCount)
            func invalid(_ reason: String) -> StateDictError {
                .malformed(source: source, reason: "tensor \(name.debugDescription) (size \(tensor.shape), stride \(tensor.strides), offset \(tensor.offset)) \(reason)")
            }
            guard let count = SafeTensorsArchive.elementCount(of: tensor.shape) else { throw invalid("has too many elements") }
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw invalid("has too many bytes") }
            produced += byteCount
            guard produced <= budget else { throw invalid("expands the file beyond \(budget) bytes of tensors") }
            if count > 0 {
                // The last element's position: offset + sum of (size - 1) * stride, which must lie in the storage.
                var last = tensor.offset
                for (extent, stride) in zip(tensor.shape, tensor.strides) {
                    let (step, stepOverflow) = (extent - 1).multipliedReportingOverflow(by: stride)
                    let (sum, sumOverflow) = last.addingReportingOverflow(step)
                    guard !stepOverflow, !sumOverflow else { throw invalid("reaches past its storage") }
                    last = sum
                }
                guard last < available else { throw invalid("reaches element \(last) of a storage of \(available)") }
            }
            // Unchecked for an empty tensor, whose offset may be anything.
            let start = count > 0 ? (base + tensor.offset) * size : 0
            let rowMajor = zip(tensor.shape, tensor.strides).reversed().reduce((true, 1)) { state, axis in
                (state.0 && (axis.0 == 1 || axis.1 == state.1), state.1 * axis.0)
            }.0
            let output: [UInt8]
            if rowMajor && start == 0 && byteCount == data.count {
                output = data  // the whole storage in order (the usual case): its bytes as they are, without a copy
            } else {
                var gathered = [UInt8](repeating: 0, count: byteCount)
                if count > 0 {
                    gather(from: data, base: start, shape: tensor.shape, strides: tensor.strides.map { $0 &* size },
                           elementSize: size, into: &gathered)
                }
                output = gathered
            }
            guard result[name] == nil else { throw StateDictError.malformed(source: source, reason: "tensor \(name.debugDescription) occurs twice") }
            result[name] = SafeTensorsEntry(dtype: dtype, shape: tensor.shape, bytes: output)
        }
        return result
    }

    /// Copies a strided view (byte offsets and byte strides) into `output` in row-major order; contiguous
    /// innermost runs are copied in one piece.
    private static func gather(from data: [UInt8], base: Int, shape: [Int], strides: [Int], elementSize: Int, into output: inout [UInt8]) {
        let rank = shape.count
        guard rank > 0 else {
            output.withUnsafeMutableBytes { out in data.withUnsafeBytes { out.baseAddress!.copyMemory(from: $0.baseAddress! + base, byteCount: elementSize) } }
            return
        }
        // Collapse the trailing dimensions that are contiguous into one run.
        var runElements = 1
        var outer = rank
        while outer > 0, strides[outer - 1] == runElements * elementSize || shape[outer - 1] == 1 {
            runElements *= shape[outer - 1]
            outer -= 1
        }
        let runBytes = runElements * elementSize
        var indices = [Int](repeating: 0, count: outer)
        var written = 0
        data.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                while written < out.count {
                    var offset = base
                    for axis in 0..<outer { offset += indices[axis] * strides[axis] }
                    if runBytes > 0 { (out.baseAddress! + written).copyMemory(from: input.baseAddress! + offset, byteCount: runBytes) }
                    written += runBytes
                    var axis = outer - 1
                    while axis >= 0 {
                        indices[axis] += 1
                        if indices[axis] < shape[axis] { break }
                        indices[axis] = 0
                        axis -= 1
                    }
                    if axis < 0 { break }
                }
            }
        }
    }
}

/// Why a file could not be read as a state dict. Every `description` is one line that names the file.
public enum StateDictError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The first bytes match none of safetensors, a PyTorch zip archive or a legacy pickle stream.
    case unrecognized(source: String, firstBytes: [UInt8])
    /// The file ends inside `what`.
    case truncated(source: String, what: String)
    /// The pickle uses an opcode this reader does not execute.
    case refusedOpcode(source: String, opcode: String, offset: Int)
    /// The pickle names a global outside the allow-list; `isModule` when the file looks like a pickled nn.Module.
    case refusedGlobal(source: String, name: String, offset: Int, isModule: Bool)
    /// A tensor's storage holds an element type with no safetensors dtype (complex, quantized).
    case unsupportedDType(source: String, storageClass: String, dtype: String)
    /// The file is well formed but of a kind this reader does not read (TorchScript, tar, big-endian...).
    case unsupported(source: String, reason: String)
    /// The file is inconsistent (garbled pickle, storage sizes, strides past the storage...).
    case malformed(source: String, reason: String)
    /// The pickled object is not a state dict.
    case notAStateDict(source: String, reason: String)

    public var description: String {
        switch self {
        case let .unrecognized(source, firstBytes):
            let hex = firstBytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
            return "\(oneLine(source)): not a safetensors file, PyTorch zip archive or PyTorch legacy pickle (it starts with \(hex)); pass a file written by torch.save or safetensors"
        case let .truncated(source, what):
            return "\(oneLine(source)): the file ends inside \(oneLine(what)); it is truncated, copy or download it again"
        case let .refusedOpcode(source, opcode, offset):
            return "\(oneLine(source)): the pickle uses \(opcode) at byte \(offset), which this reader does not execute (state dicts do not need it); the file is corrupt, or not a plain state dict"
        case let .refusedGlobal(source, name, offset, isModule):
            if isModule {
                return "\(oneLine(source)): the file holds a pickled nn.Module (global \(oneLine(name)) at byte \(offset)), not a state dict; in PyTorch, load it and torch.save(model.state_dict(), FILE)"
            }
            return "\(oneLine(source)): the pickle names the global \(oneLine(name)) at byte \(offset), which this reader refuses (it loads tensors and dicts only, and executes nothing); save model.state_dict() alone"
        case let .unsupportedDType(source, storageClass, dtype):
            let supported = TorchScalarType.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(oneLine(source)): a tensor has element type \(dtype) (\(oneLine(storageClass))), which is not supported (supported: \(supported)); convert it in PyTorch"
        case let .unsupported(source, reason):
            return "\(oneLine(source)): \(oneLine(reason))"
        case let .malformed(source, reason):
            return "\(oneLine(source)): corrupt PyTorch checkpoint: \(oneLine(reason))"
        case let .notAStateDict(source, reason):
            return "\(oneLine(source)): not a state dict: \(oneLine(reason))"
        }
    }
}
