// A restricted unpickler for PyTorch state dicts. It interprets the pickle opcodes as data and executes
// nothing: a GLOBAL resolves only to one of a handful of known names (OrderedDict, PyTorch's tensor rebuild
// functions, the typed storage classes), a REDUCE may only call those, and every other opcode or global is
// refused with an error that names it. Protocol 2 is what torch.save writes; the framing, memo and string
// opcodes of protocols 3-5 are read too.
//
// Provenance: the opcode table and semantics follow CPython's Lib/pickle.py and Lib/pickletools.py.

/// The element types of PyTorch's typed storages, by storage class (`torch.FloatStorage` holds float32).
enum TorchScalarType: String, CaseIterable, Sendable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    /// The storage class's name in the `torch` module.
    var storageClass: String {
        switch self {
        case .float32: return "FloatStorage"
        case .float64: return "DoubleStorage"
        case .float16: return "HalfStorage"
        case .bfloat16: return "BFloat16Storage"
        case .int64: return "LongStorage"
        case .int32: return "IntStorage"
        case .int16: return "ShortStorage"
        case .int8: return "CharStorage"
        case .uint8: return "ByteStorage"
        case .bool: return "BoolStorage"
        }
    }

    var safeTensorsDType: SafeTensorsDType {
        switch self {
        case .float32: return .f32
        case .float64: return .f64
        case .float16: return .f16
        case .bfloat16: return .bf16
        case .int64: return .i64
        case .int32: return .i32
        case .int16: return .i16
        case .int8: return .i8
        case .uint8: return .u8
        case .bool: return .bool
        }
    }

    /// PyTorch storage classes with no safetensors dtype, and the element type each holds.
    static let unsupportedStorageClasses: [String: String] = [
        "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128", "ComplexHalfStorage": "complex32",
        "QInt8Storage": "qint8", "QUInt8Storage": "quint8", "QInt32Storage": "qint32",
        "QUInt4x2Storage": "quint4x2", "QUInt2x4Storage": "quint2x4", "UntypedStorage": "untyped bytes",
    ]
}

/// The globals the unpickler knows. Anything else is refused.
enum PickleGlobal: Equatable, Sendable {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case rebuildParameterWithState
    case storage(TorchScalarType)

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case let .storage(type): return "torch." + type.storageClass
        }
    }
}

/// A value on the unpickler's stack. Containers live in the machine's arenas and are referred to by index,
/// so that shared (memoized) containers are mutated in place, self-reference makes no reference cycle, and
/// deep nesting needs no recursion to build or free.
enum PickleValue: Equatable, Sendable {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits, as its little-endian two's-complement bytes (LONG1/LONG4).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(Int)
    case list(Int)
    case dict(Int)
    case global(PickleGlobal)
    /// A storage referenced through a persistent id, by index into ``PickleMachine/storages``.
    case storage(Int)
    /// A tensor made by `_rebuild_tensor_v2`, by index into ``PickleMachine/tensors``.
    case tensor(Int)

    /// What the value is, in Python's words, for messages.
    var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .string: return "a str"
        case .bytes: return "bytes"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        case let .global(global): return global.qualifiedName
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        }
    }
}

/// A storage named by a persistent id `('storage', torch.<Type>Storage, key, location, numel[, view])`.
struct PickledStorage: Equatable, Sendable {
    var key: String
    var scalarType: TorchScalarType
    /// The root storage's element count.
    var elementCount: Int
    /// For a view of the legacy format: the view's first element and element count within the root storage.
    var view: (offset: Int, count: Int)?

    static func == (a: PickledStorage, b: PickledStorage) -> Bool {
        a.key == b.key && a.scalarType == b.scalarType && a.elementCount == b.elementCount
            && a.view?.offset == b.view?.offset && a.view?.count == b.view?.count
    }
}

/// A tensor made by `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`.
struct PickledTensor: Equatable, Sendable {
    /// Index into ``PickleMachine/storages``.
    var storage: Int
    /// Offset, shape and strides in elements of the storage.
    var offset: Int
    var shape: [Int]
    var strides: [Int]
}

/// A dict of the arena: insertion-ordered; string and int keys are indexed so a repeated key replaces its value.
struct PickleDict: Sendable {
    enum Key: Hashable { case string(String), int(Int) }
    var keys: [PickleValue] = []
    var values: [PickleValue] = []
    private var positions: [Key: Int] = [:]

    mutating func set(_ key: PickleValue, _ value: PickleValue) {
        let hashable: Key?
        switch key {
        case let .string(text): hashable = .string(text)
        case let .int(number): hashable = .int(number)
        default: hashable = nil
        }
        if let hashable, let position = positions[hashable] {
            values[position] = value
            return
        }
        if let hashable { positions[hashable] = keys.count }
        keys.append(key)
        values.append(value)
    }
}

/// Why a pickle could not be read; thrown by ``PickleMachine`` and turned into a ``StateDictError`` by the caller.
enum PickleFailure: Error, Equatable {
    case truncated(offset: Int)
    case refusedOpcode(offset: Int, code: UInt8)
    case refusedGlobal(offset: Int, name: String)
    case malformed(offset: Int, reason: String)
}

/// Runs one pickle (from its first opcode to STOP) as data.
struct PickleMachine {
    private(set) var tuples: [[PickleValue]] = []
    private(set) var lists: [[PickleValue]] = []
    private(set) var dicts: [PickleDict] = []
    private(set) var storages: [PickledStorage] = []
    private(set) var tensors: [PickledTensor] = []

    private let bytes: [UInt8]
    private var position: Int
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private let allowsPersistentIDs: Bool

    /// The opcodes a state dict needs, by byte; every other byte is refused.
    private static let names: [UInt8: String] = [
        0x80: "PROTO", 0x95: "FRAME", 0x2E: "STOP", 0x28: "MARK", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP",
        0x4A: "BININT", 0x4B: "BININT1", 0x4D: "BININT2", 0x8A: "LONG1", 0x8B: "LONG4",
        0x4E: "NONE", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x47: "BINFLOAT",
        0x58: "BINUNICODE", 0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8",
        0x54: "BINSTRING", 0x55: "SHORT_BINSTRING", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8E: "BINBYTES8",
        0x29: "EMPTY_TUPLE", 0x74: "TUPLE", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
        0x5D: "EMPTY_LIST", 0x61: "APPEND", 0x65: "APPENDS", 0x6C: "LIST",
        0x7D: "EMPTY_DICT", 0x64: "DICT", 0x73: "SETITEM", 0x75: "SETITEMS",
        0x71: "BINPUT", 0x72: "LONG_BINPUT", 0x68: "BINGET", 0x6A: "LONG_BINGET", 0x94: "MEMOIZE",
        0x63: "GLOBAL", 0x93: "STACK_GLOBAL", 0x52: "REDUCE", 0x62: "BUILD", 0x51: "BINPERSID",
    ]

    /// Names of the pickle opcodes this machine refuses, for messages.
    static let refusedNames: [UInt8: String] = [
        0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x69: "INST", 0x6F: "OBJ", 0x50: "PERSID", 0x82: "EXT1", 0x83: "EXT2",
        0x84: "EXT4", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x96: "BYTEARRAY8",
        0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER", 0x49: "INT", 0x4C: "LONG", 0x46: "FLOAT", 0x53: "STRING",
        0x56: "UNICODE", 0x67: "GET", 0x70: "PUT",
    ]

    /// The name of opcode `code` (`NEWOBJ (0x81)`), or `unknown opcode 0x..`.
    static func describe(_ code: UInt8) -> String {
        let hex = "0x" + (code < 16 ? "0" : "") + String(code, radix: 16)
        if let name = names[code] ?? refusedNames[code] { return "\(name) (\(hex))" }
        return "unknown opcode \(hex)"
    }

    /// A machine reading the pickle that starts at `start`. Persistent ids (BINPERSID) are accepted only
    /// when `allowsPersistentIDs` (the main pickle of a checkpoint).
    init(bytes: [UInt8], start: Int, allowsPersistentIDs: Bool) {
        self.bytes = bytes
        self.position = start
        self.allowsPersistentIDs = allowsPersistentIDs
    }

    /// Runs to STOP; returns the pickled object and the offset just after STOP.
    mutating func run() throws -> (value: PickleValue, end: Int) {
        while true {
            let opcodeOffset = position
            let code = try readByte()
            guard Self.names[code] != nil else { throw PickleFailure.refusedOpcode(offset: opcodeOffset, code: code) }
            func fail(_ reason: String) -> PickleFailure { .malformed(offset: opcodeOffset, reason: "\(Self.describe(code)): \(reason)") }
            switch code {
            case 0x80:  // PROTO
                let version = try readByte()
                guard (2...5).contains(version) else { throw fail("protocol \(version) is not read (2 to 5 are)") }
            case 0x95:  // FRAME: a length prefix only; the opcodes inside are read as usual.
                let length = try readInteger(byteCount: 8)
                guard length <= UInt64(bytes.count - position) else { throw PickleFailure.truncated(offset: opcodeOffset) }
            case 0x2E:  // STOP
                guard marks.isEmpty else { throw fail("a MARK is still open") }
                guard stack.count == 1, let value = stack.first else {
                    throw fail("\(stack.count) values on the stack, not one")
                }
                return (value, position)
            case 0x28: marks.append(stack.count)
            case 0x30: _ = try pop(fail)
            case 0x31: _ = try popMark(fail)
            case 0x32:
                guard let top = stack.last else { throw fail("the stack is empty") }
                stack.append(top)
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try readInteger(byteCount: 4)))))
            case 0x4B: stack.append(.int(Int(try readInteger(byteCount: 1))))
            case 0x4D: stack.append(.int(Int(try readInteger(byteCount: 2))))
            case 0x8A, 0x8B:
                let length = Int(try readInteger(byteCount: code == 0x8A ? 1 : 4))
                stack.append(Self.integer(littleEndian: try read(length, at: opcodeOffset)))
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x47:
                let raw = try read(8, at: opcodeOffset)
                stack.append(.float(Double(bitPattern: raw.reduce(0) { $0 << 8 | UInt64($1) })))
            case 0x58, 0x8C, 0x8D, 0x54, 0x55:
                let lengthBytes: Int = [0x58: 4, 0x8C: 1, 0x8D: 8, 0x54: 4, 0x55: 1][code]!
                let raw = try readCounted(lengthBytes, at: opcodeOffset)
                guard let text = String(validating: raw, as: UTF8.self) else { throw fail("the string is not UTF-8") }
                stack.append(.string(text))
            case 0x42, 0x43, 0x8E:
                let lengthBytes: Int = [0x42: 4, 0x43: 1, 0x8E: 8][code]!
                stack.append(.bytes(try readCounted(lengthBytes, at: opcodeOffset)))
            case 0x29: stack.append(makeTuple([]))
            case 0x74: stack.append(makeTuple(try popMark(fail)))
            case 0x85, 0x86, 0x87:
                let count = Int(code - 0x84)
                guard stack.count - (marks.last ?? 0) >= count else { throw fail("needs \(count) values on the stack") }
                let items = Array(stack.suffix(count))
                stack.removeLast(count)
                stack.append(makeTuple(items))
            case 0x5D:
                lists.append([])
                stack.append(.list(lists.count - 1))
            case 0x6C:
                lists.append(try popMark(fail))
                stack.append(.list(lists.count - 1))
            case 0x61, 0x65:
                let items = code == 0x61 ? [try pop(fail)] : try popMark(fail)
                guard case let .list(list)? = stack.last, stack.count > (marks.last ?? 0) else {
                    throw fail("the target is \(stack.last?.typeName ?? "missing"), not a list")
                }
                lists[list].append(contentsOf: items)
            case 0x7D:
                dicts.append(PickleDict())
                stack.append(.dict(dicts.count - 1))
            case 0x64:
                let items = try popMark(fail)
                guard items.count % 2 == 0 else { throw fail("an odd number of keys and values") }
                var dict = PickleDict()
                for pair in stride(from: 0, to: items.count, by: 2) { dict.set(items[pair], items[pair + 1]) }
                dicts.append(dict)
                stack.append(.dict(dicts.count - 1))
            case 0x73, 0x75:
                let items: [PickleValue]
                if code == 0x73 {
                    let value = try pop(fail), key = try pop(fail)
                    items = [key, value]
                } else {
                    items = try popMark(fail)
                }
                guard items.count % 2 == 0 else { throw fail("an odd number of keys and values") }
                guard case let .dict(dict)? = stack.last, stack.count > (marks.last ?? 0) else {
                    throw fail("the target is \(stack.last?.typeName ?? "missing"), not a dict")
                }
                for pair in stride(from: 0, to: items.count, by: 2) { dicts[dict].set(items[pair], items[pair + 1]) }
            case 0x71, 0x72:
                let index = Int(try readInteger(byteCount: code == 0x71 ? 1 : 4))
                guard let top = stack.last else { throw fail("the stack is empty") }
                memo[index] = top
            case 0x94:
                guard let top = stack.last else { throw fail("the stack is empty") }
                memo[memo.count] = top
            case 0x68, 0x6A:
                let index = Int(try readInteger(byteCount: code == 0x68 ? 1 : 4))
                guard let value = memo[index] else { throw fail("memo entry \(index) was never stored") }
                stack.append(value)
            case 0x63:
                let module = try readLine(at: opcodeOffset), name = try readLine(at: opcodeOffset)
                stack.append(.global(try Self.resolve(module: module, name: name, at: opcodeOffset)))
            case 0x93:
                let nameValue = try pop(fail), moduleValue = try pop(fail)
                guard case let .string(module) = moduleValue, case let .string(name) = nameValue else {
                    throw fail("module and name are \(moduleValue.typeName) and \(nameValue.typeName), not strings")
                }
                stack.append(.global(try Self.resolve(module: module, name: name, at: opcodeOffset)))
            case 0x52:
                let arguments = try pop(fail), callable = try pop(fail)
                guard case let .tuple(tuple) = arguments else { throw fail("the arguments are \(arguments.typeName), not a tuple") }
                stack.append(try reduce(callable, tuples[tuple], fail))
            case 0x62:
                let state = try pop(fail)
                guard case .dict? = stack.last, stack.count > (marks.last ?? 0) else {
                    throw fail("sets the state of \(stack.last?.typeName ?? "nothing"), which this reader does not rebuild")
                }
                // OrderedDict state: the state dict's `_metadata` attribute (module versions), not needed.
                switch state {
                case .dict, .none: break
                default: throw fail("the state of a dict is \(state.typeName), not a dict")
                }
            case 0x51:
                guard allowsPersistentIDs else { throw fail("a persistent id outside a checkpoint's main pickle") }
                stack.append(try persistentLoad(try pop(fail), fail))
            default:
                throw PickleFailure.refusedOpcode(offset: opcodeOffset, code: code)
            }
        }
    }

    /// Maps a GLOBAL's module and name to one of the known globals, or refuses it.
    static func resolve(module: String, name: String, at offset: Int) throws -> PickleGlobal {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch", _):
            if let type = TorchScalarType.allCases.first(where: { $0.storageClass == name }) { return .storage(type) }
        default: break
        }
        throw PickleFailure.refusedGlobal(offset: offset, name: module + "." + name)
    }

    /// The elements of the tuple, list or dict arena entry that `value` names.
    func tuple(_ value: PickleValue) -> [PickleValue]? {
        if case let .tuple(index) = value { return tuples[index] }
        return nil
    }

    func dict(_ value: PickleValue) -> PickleDict? {
        if case let .dict(index) = value { return dicts[index] }
        return nil
    }

    func list(_ value: PickleValue) -> [PickleValue]? {
        if case let .list(index) = value { return lists[index] }
        return nil
    }

    // MARK: Calls and persistent ids

    private mutating func reduce(_ callable: PickleValue, _ arguments: [PickleValue], _ fail: (String) -> PickleFailure) throws -> PickleValue {
        guard case let .global(global) = callable else { throw fail("calls \(callable.typeName), which is not a known function") }
        switch global {
        case .orderedDict:
            guard arguments.isEmpty else { throw fail("collections.OrderedDict is called with \(arguments.count) arguments, not none") }
            dicts.append(PickleDict())
            return .dict(dicts.count - 1)
        case .rebuildTensorV2:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard arguments.count == 6 || arguments.count == 7 else {
                throw fail("_rebuild_tensor_v2 is called with \(arguments.count) arguments, not 6 or 7")
            }
            guard case let .storage(storage) = arguments[0] else { throw fail("_rebuild_tensor_v2's storage is \(arguments[0].typeName)") }
            guard case let .int(offset) = arguments[1], offset >= 0 else { throw fail("_rebuild_tensor_v2's offset is not a non-negative int") }
            let shape = try integers(arguments[2], what: "size", fail)
            let strides = try integers(arguments[3], what: "stride", fail)
            guard shape.count == strides.count else {
                throw fail("_rebuild_tensor_v2's size \(shape) and stride \(strides) differ in length")
            }
            guard case .bool = arguments[4] else { throw fail("_rebuild_tensor_v2's requires_grad is \(arguments[4].typeName)") }
            guard let hooks = dict(arguments[5]), hooks.keys.isEmpty else {
                throw fail("_rebuild_tensor_v2's backward hooks are not an empty dict (hooks are code; save the state dict without them)")
            }
            tensors.append(PickledTensor(storage: storage, offset: offset, shape: shape, strides: strides))
            return .tensor(tensors.count - 1)
        case .rebuildParameter, .rebuildParameterWithState:
            // (data, requires_grad, backward_hooks[, state]): the parameter's data tensor.
            let expected = global == .rebuildParameter ? 3 : 4
            guard arguments.count == expected, case .tensor = arguments[0] else {
                throw fail("\(global.qualifiedName) is called with \(arguments.count) arguments, not \(expected) starting with a tensor")
            }
            return arguments[0]
        case .storage:
            throw fail("calls \(global.qualifiedName), which this reader does not evaluate")
        }
    }

    /// `('storage', torch.<Type>Storage, key, location, numel[, view_metadata])`, the persistent id of both formats.
    private mutating func persistentLoad(_ id: PickleValue, _ fail: (String) -> PickleFailure) throws -> PickleValue {
        guard let fields = tuple(id), fields.count == 5 || fields.count == 6 else {
            throw fail("the persistent id is \(id.typeName) of the wrong length, not ('storage', type, key, location, numel)")
        }
        guard case .string("storage") = fields[0] else {
            if case .string("module") = fields[0] {
                throw fail("the file holds a pickled nn.Module's source; in PyTorch, save model.state_dict() instead")
            }
            throw fail("the persistent id is of kind \(fields[0].typeName), not 'storage'")
        }
        guard case let .global(.storage(scalarType)) = fields[1] else { throw fail("the storage type is \(fields[1].typeName)") }
        guard case let .string(key) = fields[2] else { throw fail("the storage key is \(fields[2].typeName), not a str") }
        guard case .string = fields[3] else { throw fail("the storage location is \(fields[3].typeName), not a str") }
        guard case let .int(count) = fields[4], count >= 0 else { throw fail("the storage size is not a non-negative int") }
        var storage = PickledStorage(key: key, scalarType: scalarType, elementCount: count, view: nil)
        if fields.count == 6, fields[5] != .none {
            // Legacy storage views: (view_key, offset, view_size) in elements of the root storage.
            guard let view = tuple(fields[5]), view.count == 3, case .string = view[0],
                  case let .int(offset) = view[1], case let .int(size) = view[2], offset >= 0, size >= 0,
                  offset <= count, size <= count - offset else {
                throw fail("the storage view of \(key.debugDescription) is not (key, offset, size) within its \(count) elements")
            }
            storage.view = (offset, size)
        }
        storages.append(storage)
        return .storage(storages.count - 1)
    }

    private func integers(_ value: PickleValue, what: String, _ fail: (String) -> PickleFailure) throws -> [Int] {
        guard let items = tuple(value) else { throw fail("_rebuild_tensor_v2's \(what) is \(value.typeName), not a tuple") }
        return try items.map { item in
            guard case let .int(number) = item, number >= 0 else { throw fail("_rebuild_tensor_v2's \(what) holds \(item.typeName), not a non-negative int") }
            return number
        }
    }

    // MARK: Stack and bytes

    private mutating func makeTuple(_ items: [PickleValue]) -> PickleValue {
        tuples.append(items)
        return .tuple(tuples.count - 1)
    }

    private mutating func pop(_ fail: (String) -> PickleFailure) throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let value = stack.popLast() else { throw fail("the stack is empty") }
        return value
    }

    private mutating func popMark(_ fail: (String) -> PickleFailure) throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw fail("no MARK is open") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func readByte() throws -> UInt8 {
        guard position < bytes.count else { throw PickleFailure.truncated(offset: position) }
        position += 1
        return bytes[position - 1]
    }

    private mutating func readInteger(byteCount: Int) throws -> UInt64 {
        let raw = try read(byteCount, at: position)
        return raw.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    private mutating func read(_ count: Int, at opcodeOffset: Int) throws -> [UInt8] {
        guard count >= 0, count <= bytes.count - position else { throw PickleFailure.truncated(offset: opcodeOffset) }
        position += count
        return Array(bytes[(position - count)..<position])
    }

    /// A length prefix of `lengthBytes` little-endian bytes, then that many bytes.
    private mutating func readCounted(_ lengthBytes: Int, at opcodeOffset: Int) throws -> [UInt8] {
        let length = try readInteger(byteCount: lengthBytes)
        guard length <= UInt64(bytes.count - position) else { throw PickleFailure.truncated(offset: opcodeOffset) }
        return try read(Int(length), at: opcodeOffset)
    }

    /// A newline-terminated ASCII line (GLOBAL's module and name), at most 256 bytes.
    private mutating func readLine(at opcodeOffset: Int) throws -> String {
        let limit = min(bytes.count, position + 257)
        guard let end = bytes[position..<limit].firstIndex(of: 0x0A) else {
            if limit == bytes.count { throw PickleFailure.truncated(offset: opcodeOffset) }
            throw PickleFailure.malformed(offset: opcodeOffset, reason: "GLOBAL (0x63): a name longer than 256 bytes")
        }
        let line = String(decoding: bytes[position..<end], as: UTF8.self)
        position = end + 1
        return line
    }

    /// A LONG1/LONG4 payload: little-endian two's complement, `.int` when it fits in 64 bits.
    static func integer(littleEndian raw: [UInt8]) -> PickleValue {
        guard !raw.isEmpty else { return .int(0) }
        var trimmed = raw
        // Drop sign-extension bytes that do not change the value.
        while trimmed.count > 1 {
            let last = trimmed[trimmed.count - 1], previous = trimmed[trimmed.count - 2]
            if (last == 0 && previous & 0x80 == 0) || (last == 0xFF && previous & 0x80 != 0) { trimmed.removeLast() } else { break }
        }
        guard trimmed.count <= 8 else { return .bigInt(trimmed) }
        let negative = trimmed[trimmed.count - 1] & 0x80 != 0
        var value: UInt64 = negative ? ~0 : 0
        for (index, byte) in trimmed.enumerated() {
            value &= ~(UInt64(0xFF) << UInt64(8 * index))
            value |= UInt64(byte) << UInt64(8 * index)
        }
        return .int(Int(Int64(bitPattern: value)))
    }
}
