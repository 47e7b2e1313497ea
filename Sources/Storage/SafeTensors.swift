// The safetensors checkpoint format (https://github.com/huggingface/safetensors):
//
//   [8 bytes: little-endian UInt64 N] [N bytes: UTF-8 JSON header] [byte buffer]
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative
// to the start of the buffer) plus an optional "__metadata__" object of string -> string.
//
// This file holds the data types and typed accessors; writing is in SafeTensors+Writing.swift, reading
// and validation in SafeTensors+Reading.swift, and the small strict JSON parser in SafeTensors+JSON.swift.

#if _endian(big)
#error("The safetensors reader/writer copies tensor bytes as they are in memory and so assumes a little-endian host.")
#endif

/// The element types a safetensors file can store, spelled as in the file header.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8"
    case bool = "BOOL"

    /// The size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }
}

/// One tensor as stored in a safetensors file: its element type, its shape and its raw little-endian bytes.
public struct SafeTensorsEntry: Sendable, Equatable {
    /// The element type.
    public var dtype: SafeTensorsDType
    /// The dimensions, outermost first; `[]` is a scalar, and any zero dimension makes the tensor empty.
    public var shape: [Int]
    /// The elements in row-major order as little-endian bytes; `shape.product * dtype.byteSize` of them.
    public var bytes: [UInt8]

    /// Creates an entry from raw bytes. `bytes.count` must equal the product of `shape` times `dtype.byteSize`;
    /// ``SafeTensorsArchive/set(_:entry:)`` checks this.
    public init(dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }
}

/// A set of named tensors plus string metadata, readable from and writable to the safetensors format.
///
/// Writing is deterministic: the same tensors and metadata always serialize to byte-identical files
/// (tensors in order of the UTF-8 bytes of their names, fixed key order, header padded with spaces to a
/// multiple of 8 bytes). Reading validates the whole file and throws ``SafeTensorsError`` naming the file.
public struct SafeTensorsArchive: Sendable, Equatable {
    /// The reserved header key that holds the metadata; no tensor may have this name.
    public static let metadataKey = "__metadata__"

    /// Free-form string metadata stored in the header's `__metadata__` object.
    public var metadata: [String: String]

    /// The tensors by name. Change them with the `set` methods, which check shapes against data.
    public private(set) var entries: [String: SafeTensorsEntry]

    /// Creates an archive with no tensors.
    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
        self.entries = [:]
    }

    /// Creates an archive from entries the reader has already validated.
    init(metadata: [String: String], validatedEntries: [String: SafeTensorsEntry]) {
        self.metadata = metadata
        self.entries = validatedEntries
    }

    // MARK: Adding tensors

    /// Stores `floats` as an `F32` tensor named `name`, replacing any tensor of that name.
    ///
    /// - Precondition: `floats.count` equals the product of `shape`, and every dimension is non-negative.
    public mutating func set(_ name: String, floats: [Float], shape: [Int]) {
        set(name, values: floats, dtype: .f32, shape: shape)
    }

    /// Stores `doubles` as an `F64` tensor named `name`, replacing any tensor of that name.
    ///
    /// - Precondition: `doubles.count` equals the product of `shape`, and every dimension is non-negative.
    public mutating func set(_ name: String, doubles: [Double], shape: [Int]) {
        set(name, values: doubles, dtype: .f64, shape: shape)
    }

    /// Stores `int64s` as an `I64` tensor named `name`, replacing any tensor of that name.
    ///
    /// - Precondition: `int64s.count` equals the product of `shape`, and every dimension is non-negative.
    public mutating func set(_ name: String, int64s: [Int64], shape: [Int]) {
        set(name, values: int64s, dtype: .i64, shape: shape)
    }

    /// Stores a tensor of any supported type from its raw bytes, replacing any tensor of that name.
    ///
    /// - Precondition: `name` is not `"__metadata__"`, every dimension of `entry.shape` is non-negative and
    ///   `entry.bytes.count` equals the product of the shape times `entry.dtype.byteSize`.
    public mutating func set(_ name: String, entry: SafeTensorsEntry) {
        precondition(name != Self.metadataKey, "\"\(Self.metadataKey)\" is reserved for metadata and cannot name a tensor")
        guard let count = SafeTensorsArchive.elementCount(of: entry.shape) else {
            preconditionFailure("tensor \(name.debugDescription): shape \(entry.shape) has a negative dimension or too many elements")
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: entry.dtype.byteSize)
        precondition(!overflow && byteCount == entry.bytes.count,
                     "tensor \(name.debugDescription): \(entry.bytes.count) bytes do not fill shape \(entry.shape) of \(entry.dtype.rawValue)")
        entries[name] = entry
    }

    private mutating func set<T: BitwiseCopyable>(_ name: String, values: [T], dtype: SafeTensorsDType, shape: [Int]) {
        guard let count = SafeTensorsArchive.elementCount(of: shape) else {
            preconditionFailure("tensor \(name.debugDescription): shape \(shape) has a negative dimension or too many elements")
        }
        precondition(values.count == count,
                     "tensor \(name.debugDescription): \(values.count) values do not fill shape \(shape) (\(count) elements)")
        let bytes = values.withUnsafeBytes { [UInt8]($0) }
        set(name, entry: SafeTensorsEntry(dtype: dtype, shape: shape, bytes: bytes))
    }

    // MARK: Reading tensors

    /// The values of the `F32` tensor `name`, in row-major order.
    ///
    /// - Throws: ``SafeTensorsError/missingTensor(name:)`` or ``SafeTensorsError/wrongDType(name:expected:actual:)``.
    public func floats(_ name: String) throws -> [Float] {
        try values(name, dtype: .f32, as: Float.self)
    }

    /// The values of the `F64` tensor `name`, in row-major order.
    ///
    /// - Throws: ``SafeTensorsError/missingTensor(name:)`` or ``SafeTensorsError/wrongDType(name:expected:actual:)``.
    public func doubles(_ name: String) throws -> [Double] {
        try values(name, dtype: .f64, as: Double.self)
    }

    /// The values of the `I64` tensor `name`, in row-major order.
    ///
    /// - Throws: ``SafeTensorsError/missingTensor(name:)`` or ``SafeTensorsError/wrongDType(name:expected:actual:)``.
    public func int64s(_ name: String) throws -> [Int64] {
        try values(name, dtype: .i64, as: Int64.self)
    }

    /// The shape of the tensor `name`.
    ///
    /// - Throws: ``SafeTensorsError/missingTensor(name:)``.
    public func shape(of name: String) throws -> [Int] {
        guard let entry = entries[name] else { throw SafeTensorsError.missingTensor(name: name) }
        return entry.shape
    }

    private func values<T: BitwiseCopyable>(_ name: String, dtype: SafeTensorsDType, as _: T.Type) throws -> [T] {
        guard let entry = entries[name] else { throw SafeTensorsError.missingTensor(name: name) }
        guard entry.dtype == dtype else {
            throw SafeTensorsError.wrongDType(name: name, expected: dtype, actual: entry.dtype)
        }
        let count = entry.bytes.count / MemoryLayout<T>.stride
        return [T](unsafeUninitializedCapacity: count) { buffer, initializedCount in
            entry.bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: source[0..<(count * MemoryLayout<T>.stride)]))
            }
            initializedCount = count
        }
    }

    /// The number of elements of `shape`, or nil if a dimension is negative or the product overflows `Int`.
    static func elementCount(of shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }
}

/// Why a safetensors file could not be read, or a tensor could not be fetched from an archive.
///
/// Every `description` is one line that names the file (`source`) and says what to do about it.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file is shorter than the 8-byte header-length prefix.
    case fileTooShort(source: String, byteCount: Int)
    /// The header length prefix is larger than the rest of the file or than the 100 MB limit.
    case invalidHeaderLength(source: String, headerLength: UInt64, fileSize: Int)
    /// The header is not UTF-8, not JSON, or not a JSON object.
    case invalidHeader(source: String, reason: String)
    /// A key occurs twice in one JSON object of the header.
    case duplicateKey(source: String, key: String)
    /// A tensor's header entry is not an object, lacks `dtype`/`shape`/`data_offsets`, or has values of the wrong JSON type.
    case invalidEntry(source: String, tensor: String, reason: String)
    /// A tensor's dtype is not one of ``SafeTensorsDType``.
    case unknownDType(source: String, tensor: String, dtype: String)
    /// A tensor's `data_offsets` has `begin > end`.
    case invalidOffsets(source: String, tensor: String, begin: Int, end: Int)
    /// A tensor's data extends past the end of the byte buffer (usually a truncated file).
    case offsetsOutOfRange(source: String, tensor: String, end: Int, bufferSize: Int)
    /// A tensor's byte range does not match its shape and dtype.
    case sizeMismatch(source: String, tensor: String, expectedBytes: Int, actualBytes: Int)
    /// Two tensors share bytes of the buffer.
    case overlappingTensors(source: String, first: String, second: String)
    /// Bytes `begin..<end` of the buffer belong to no tensor.
    case unusedBytes(source: String, begin: Int, end: Int)
    /// `__metadata__` is not an object of strings; `key` is nil when `__metadata__` itself is wrong.
    case invalidMetadata(source: String, key: String?, reason: String)
    /// The archive has no tensor with this name.
    case missingTensor(name: String)
    /// The tensor exists but holds a different element type than the accessor reads.
    case wrongDType(name: String, expected: SafeTensorsDType, actual: SafeTensorsDType)

    /// A one-line message naming the file, the problem and what to do about it.
    public var description: String {
        switch self {
        case let .fileTooShort(source, byteCount):
            return "\(oneLine(source)): only \(byteCount) bytes, too short for a safetensors file (at least 8 bytes); the file is truncated or not a checkpoint, re-create it"
        case let .invalidHeaderLength(source, headerLength, fileSize):
            if headerLength > UInt64(SafeTensorsArchive.maximumHeaderLength) {
                return "\(oneLine(source)): header length \(headerLength) exceeds the \(SafeTensorsArchive.maximumHeaderLength)-byte limit; the file is corrupt or not a safetensors file"
            }
            return "\(oneLine(source)): header length \(headerLength) runs past the end of the \(fileSize)-byte file; the file is truncated or not a safetensors file"
        case let .invalidHeader(source, reason):
            return "\(oneLine(source)): invalid safetensors header: \(oneLine(reason)); the file is corrupt or not a safetensors file"
        case let .duplicateKey(source, key):
            return "\(oneLine(source)): the header has the key \(key.debugDescription) twice; the writer is broken, re-save the file"
        case let .invalidEntry(source, tensor, reason):
            return "\(oneLine(source)): tensor \(tensor.debugDescription) \(oneLine(reason)); the file is corrupt or written by a broken tool"
        case let .unknownDType(source, tensor, dtype):
            let supported = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(oneLine(source)): tensor \(tensor.debugDescription) has unsupported dtype \(dtype.debugDescription) (supported: \(supported)); convert the checkpoint"
        case let .invalidOffsets(source, tensor, begin, end):
            return "\(oneLine(source)): tensor \(tensor.debugDescription) has data_offsets [\(begin), \(end)] with begin after end; the file is corrupt"
        case let .offsetsOutOfRange(source, tensor, end, bufferSize):
            return "\(oneLine(source)): tensor \(tensor.debugDescription) ends at byte \(end) of the data buffer but the buffer has only \(bufferSize) bytes; the file is truncated, copy or download it again"
        case let .sizeMismatch(source, tensor, expectedBytes, actualBytes):
            return "\(oneLine(source)): tensor \(tensor.debugDescription) occupies \(actualBytes) bytes but its shape and dtype need \(expectedBytes); the file is corrupt"
        case let .overlappingTensors(source, first, second):
            return "\(oneLine(source)): tensors \(first.debugDescription) and \(second.debugDescription) overlap in the data buffer; the file is corrupt"
        case let .unusedBytes(source, begin, end):
            return "\(oneLine(source)): bytes \(begin)..<\(end) of the data buffer belong to no tensor; the file is corrupt or has trailing garbage"
        case let .invalidMetadata(source, key, reason):
            if let key {
                return "\(oneLine(source)): metadata entry \(key.debugDescription) \(oneLine(reason)); metadata values must be strings"
            }
            return "\(oneLine(source)): \(oneLine(reason)); \"__metadata__\" must be an object of strings"
        case let .missingTensor(name):
            return "no tensor named \(name.debugDescription) in the safetensors archive; check that the checkpoint matches the model"
        case let .wrongDType(name, expected, actual):
            return "tensor \(name.debugDescription) holds \(actual.rawValue), not \(expected.rawValue); read it with the matching accessor or convert the checkpoint"
        }
    }
}

/// `text` with line breaks and other control characters escaped, so messages stay on one line. Error types
/// that quote what they read from a file pass the quoted text through this.
public func oneLine(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
    return String(text.debugDescription.dropFirst().dropLast())
}
