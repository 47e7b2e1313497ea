// Reading and validating safetensors files. Nothing here traps on malformed input: every check throws a
// SafeTensorsError that names the source file.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SafeTensorsArchive {
    /// Headers longer than this (100 MB) are rejected as corrupt, like the reference implementation does.
    public static let maximumHeaderLength = 100_000_000

    /// Reads the safetensors file at `path`; see ``init(bytes:source:)`` for what is validated.
    ///
    /// - Throws: ``FileError/cannotRead(path:reason:)`` if the file cannot be read, ``SafeTensorsError`` if it is malformed.
    public init(contentsOf path: String) throws {
        try self.init(bytes: SafeTensorsArchive.readFile(path), source: path)
    }

    /// The whole file at `path`, read with one allocation and no per-byte work.
    ///
    /// Public so that a caller can validate the exact bytes it parsed (one read, so a concurrent atomic
    /// replacement of the file cannot mix two versions), e.g. with ``init(bytes:source:)``.
    /// - Throws: ``FileError/cannotRead(path:reason:)``.
    public static func readFile(_ path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw FileError.cannotRead(path: path, reason: String(cString: strerror(errno)))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw FileError.cannotRead(path: path, reason: "not a regular file")
        }
        let size = Int(status.st_size)
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initializedCount in
            initializedCount = 0
            while initializedCount < size, let base = buffer.baseAddress {
                let count = read(descriptor, base + initializedCount, size - initializedCount)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                if count == 0 { return }  // The file shrank while reading; validation reports the truncation.
                initializedCount += count
            }
        }
        if let failure { throw FileError.cannotRead(path: path, reason: failure) }
        return bytes
    }

    /// Parses and validates a complete safetensors file.
    ///
    /// Checks the length prefix against the file size and the 100 MB limit; that the header is UTF-8 JSON
    /// object with no duplicate keys; that each tensor has a known `dtype`, a `shape` of
    /// non-negative integers and `data_offsets` `[begin, end]` within the buffer whose length matches the
    /// shape; that the tensors tile the buffer exactly (no overlaps, gaps or trailing bytes); and that
    /// `__metadata__`, if present, maps strings to strings.
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - source: the file's name, used in error messages.
    /// - Throws: ``SafeTensorsError`` describing the first problem found.
    public init(bytes: [UInt8], source: String = "<memory>") throws {
        guard bytes.count >= 8 else { throw SafeTensorsError.fileTooShort(source: source, byteCount: bytes.count) }
        var declaredLength: UInt64 = 0
        for index in 0..<8 { declaredLength |= UInt64(bytes[index]) << UInt64(8 * index) }
        guard declaredLength <= UInt64(SafeTensorsArchive.maximumHeaderLength),
              declaredLength <= UInt64(bytes.count - 8) else {
            throw SafeTensorsError.invalidHeaderLength(source: source, headerLength: declaredLength, fileSize: bytes.count)
        }
        let headerEnd = 8 + Int(declaredLength)
        let header = Array(bytes[8..<headerEnd])
        let root = try SafeTensorsArchive.parseHeader(header, source: source)

        let bufferSize = bytes.count - headerEnd
        var metadata: [String: String] = [:]
        var layouts: [(name: String, entry: SafeTensorsEntryLayout)] = []
        for (key, value) in root {
            if key == SafeTensorsArchive.metadataKey {
                metadata = try SafeTensorsArchive.parseMetadata(value, source: source)
            } else {
                let layout = try SafeTensorsEntryLayout(name: key, json: value, bufferSize: bufferSize, source: source)
                layouts.append((key, layout))
            }
        }

        // The tensors must tile the buffer: sorted by position, each starts where the previous one ended.
        layouts.sort { ($0.entry.begin, $0.entry.end) < ($1.entry.begin, $1.entry.end) }
        var cursor = 0
        var previousName = ""
        for (name, layout) in layouts {
            if layout.begin < cursor {
                throw SafeTensorsError.overlappingTensors(source: source, first: previousName, second: name)
            }
            if layout.begin > cursor {
                throw SafeTensorsError.unusedBytes(source: source, begin: cursor, end: layout.begin)
            }
            cursor = layout.end
            previousName = name
        }
        if cursor != bufferSize {
            throw SafeTensorsError.unusedBytes(source: source, begin: cursor, end: bufferSize)
        }

        var entries: [String: SafeTensorsEntry] = [:]
        entries.reserveCapacity(layouts.count)
        for (name, layout) in layouts {
            let entryBytes = Array(bytes[(headerEnd + layout.begin)..<(headerEnd + layout.end)])
            entries[name] = SafeTensorsEntry(dtype: layout.dtype, shape: layout.shape, bytes: entryBytes)
        }
        self.init(metadata: metadata, validatedEntries: entries)
    }

    /// The header's top-level members, after checking UTF-8, JSON syntax, duplicate keys and object type.
    private static func parseHeader(_ header: [UInt8], source: String) throws -> [(key: String, value: JSONValue)] {
        let invalidUTF8 = transcode(header.makeIterator(), from: UTF8.self, to: UTF32.self, stoppingOnError: true) { _ in }
        guard !invalidUTF8 else { throw SafeTensorsError.invalidHeader(source: source, reason: "it is not valid UTF-8") }
        let root: JSONValue
        do {
            root = try JSONParser.parse(header)
        } catch let JSONParseError.syntax(offset, message) {
            throw SafeTensorsError.invalidHeader(source: source, reason: "it is not valid JSON: \(message) at header byte \(offset)")
        } catch let JSONParseError.duplicateKey(key) {
            throw SafeTensorsError.duplicateKey(source: source, key: key)
        }
        guard case let .object(members) = root else {
            throw SafeTensorsError.invalidHeader(source: source, reason: "it is \(root.typeName), not a JSON object")
        }
        return members
    }

    private static func parseMetadata(_ value: JSONValue, source: String) throws -> [String: String] {
        guard case let .object(members) = value else {
            throw SafeTensorsError.invalidMetadata(source: source, key: nil, reason: "\"__metadata__\" is \(value.typeName)")
        }
        var metadata: [String: String] = [:]
        for (key, value) in members {
            guard case let .string(text) = value else {
                throw SafeTensorsError.invalidMetadata(source: source, key: key, reason: "is \(value.typeName), not a string")
            }
            metadata[key] = text
        }
        return metadata
    }
}

/// One validated header entry: where a tensor's bytes are and what they hold.
private struct SafeTensorsEntryLayout {
    var dtype: SafeTensorsDType
    var shape: [Int]
    var begin: Int
    var end: Int

    init(name: String, json: JSONValue, bufferSize: Int, source: String) throws {
        func invalid(_ reason: String) -> SafeTensorsError {
            .invalidEntry(source: source, tensor: name, reason: reason)
        }
        guard case let .object(members) = json else {
            throw invalid("is \(json.typeName), not an object with dtype, shape and data_offsets")
        }
        let fields = Dictionary(members, uniquingKeysWith: { first, _ in first })

        guard let dtypeValue = fields["dtype"] else { throw invalid("is missing \"dtype\"") }
        guard case let .string(dtypeName) = dtypeValue else { throw invalid("has a dtype that is \(dtypeValue.typeName), not a string") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(source: source, tensor: name, dtype: dtypeName)
        }

        guard let shapeValue = fields["shape"] else { throw invalid("is missing \"shape\"") }
        guard case let .array(dimensionValues) = shapeValue else { throw invalid("has a shape that is \(shapeValue.typeName), not an array") }
        var shape: [Int] = []
        for (index, dimension) in dimensionValues.enumerated() {
            shape.append(try Self.integer(dimension, what: "shape[\(index)]", invalid: invalid))
        }

        guard let offsetsValue = fields["data_offsets"] else { throw invalid("is missing \"data_offsets\"") }
        guard case let .array(offsetValues) = offsetsValue, offsetValues.count == 2 else {
            throw invalid("has data_offsets that are not an array of two integers")
        }
        let begin = try Self.integer(offsetValues[0], what: "data_offsets[0]", invalid: invalid)
        let end = try Self.integer(offsetValues[1], what: "data_offsets[1]", invalid: invalid)
        guard begin <= end else { throw SafeTensorsError.invalidOffsets(source: source, tensor: name, begin: begin, end: end) }
        guard end <= bufferSize else {
            throw SafeTensorsError.offsetsOutOfRange(source: source, tensor: name, end: end, bufferSize: bufferSize)
        }

        guard let count = SafeTensorsArchive.elementCount(of: shape) else {
            throw invalid("has shape \(shape) with more elements than can be addressed")
        }
        let (expectedBytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw invalid("has shape \(shape) with more bytes than can be addressed") }
        guard expectedBytes == end - begin else {
            throw SafeTensorsError.sizeMismatch(source: source, tensor: name, expectedBytes: expectedBytes, actualBytes: end - begin)
        }
        self.dtype = dtype
        self.shape = shape
        self.begin = begin
        self.end = end
    }

    private static func integer(_ value: JSONValue, what: String, invalid: (String) -> SafeTensorsError) throws -> Int {
        switch value.nonNegativeInteger {
        case let .value(integer): return integer
        case .notANumber: throw invalid("has \(what) that is \(value.typeName), not an integer")
        case .notAnInteger: throw invalid("has \(what) that is not an integer")
        case .negative: throw invalid("has \(what) that is negative")
        case .tooLarge: throw invalid("has \(what) that is too large")
        }
    }
}
