// A strict reader of ZIP archives (PKWARE APPNOTE 6.3) for the two kinds the toolkit reads: PyTorch's
// checkpoints (torch.save since 1.6: stored entries, data descriptors, a zip64 end record beside the classic
// one) and numpy's .npz (np.savez stores, np.savez_compressed deflates; zip64 extra fields in local headers).
// The central directory is the authority for names, sizes, methods and checksums; a local header only locates
// an entry's data. Nothing here traps on malformed input: every check throws a ZipError that names the file.

/// One file of a ZIP archive, as the central directory describes it.
public struct ZipEntry: Sendable, Equatable {
    /// How the entry's bytes are stored.
    public enum Method: Sendable, Equatable {
        /// Method 0: the bytes as they are.
        case stored
        /// Method 8: raw deflate (RFC 1951), without zlib or gzip framing.
        case deflated
    }

    /// The entry's path inside the archive, e.g. `archive/data.pkl`.
    public let name: String
    public let method: Method
    /// The CRC-32 of the uncompressed bytes.
    public let crc32: UInt32
    public let compressedSize: Int
    public let uncompressedSize: Int
    /// Where the entry's (possibly compressed) bytes start in the archive.
    public let dataOffset: Int
    /// Where the entry's local header starts in the archive.
    let headerOffset: Int
}

/// Why a ZIP archive could not be read. Every `description` is one line naming the file (and the entry).
public enum ZipError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No end-of-central-directory record: not a ZIP archive, or one cut short.
    case notAnArchive(source: String)
    /// A structure of the archive is inconsistent or runs past the end of the file.
    case malformed(source: String, reason: String)
    /// The archive or an entry needs zip64 (more than 65,535 entries or 4 GiB), which this reader does not read.
    case zip64(source: String, entry: String?)
    /// An entry is encrypted.
    case encrypted(source: String, entry: String)
    /// An entry uses a compression method other than stored (0) and deflate (8).
    case unsupportedMethod(source: String, entry: String, method: Int)
    /// A deflated entry was asked for by a caller that reads stored entries only.
    case compressed(source: String, entry: String)
    /// Two entries share bytes of the file.
    case overlappingEntries(source: String, first: String, second: String)
    /// Two entries have the same name.
    case duplicateName(source: String, entry: String)
    /// An entry's bytes do not have the CRC-32 the central directory records.
    case checksumMismatch(source: String, entry: String)
    /// The archive has no entry of this name.
    case missingEntry(source: String, entry: String)

    public var description: String {
        switch self {
        case let .notAnArchive(source):
            return "\(oneLine(source)): not a ZIP archive (no end-of-central-directory record); the file is truncated or of another kind"
        case let .malformed(source, reason):
            return "\(oneLine(source)): malformed ZIP archive: \(oneLine(reason)); the file is corrupt or truncated, copy it again"
        case let .zip64(source, entry):
            let what = entry.map { "entry \(oneLine($0).debugDescription) needs" } ?? "the archive needs"
            return "\(oneLine(source)): \(what) zip64 (over 65,535 entries or 4 GiB), which this reader does not support"
        case let .encrypted(source, entry):
            return "\(oneLine(source)): entry \(oneLine(entry).debugDescription) is encrypted; decrypt the archive first"
        case let .unsupportedMethod(source, entry, method):
            return "\(oneLine(source)): entry \(oneLine(entry).debugDescription) uses compression method \(method) (only stored and deflate are read); re-create the archive"
        case let .compressed(source, entry):
            return "\(oneLine(source)): entry \(oneLine(entry).debugDescription) is compressed, but this file must store its entries uncompressed; re-save it with the tool that wrote it"
        case let .overlappingEntries(source, first, second):
            return "\(oneLine(source)): entries \(oneLine(first).debugDescription) and \(oneLine(second).debugDescription) overlap; the archive is corrupt or crafted"
        case let .duplicateName(source, entry):
            return "\(oneLine(source)): the name \(oneLine(entry).debugDescription) occurs twice; the archive is corrupt or crafted"
        case let .checksumMismatch(source, entry):
            return "\(oneLine(source)): entry \(oneLine(entry).debugDescription) fails its CRC-32 check; the file is corrupt, copy or download it again"
        case let .missingEntry(source, entry):
            return "\(oneLine(source)): the archive has no entry \(oneLine(entry).debugDescription)"
        }
    }
}

/// A validated ZIP archive held in memory.
///
/// Checked when opened: the end-of-central-directory record (single disk, comment running exactly to the end
/// of the file), every central-directory header (no encryption, method stored or deflate, no zip64 sizes,
/// UTF-8 names, no duplicates), each entry's local header (signature, the same name) and that the entries'
/// headers and data lie before the central directory without overlapping one another. Contents are checked
/// against their CRC-32 when read.
public struct ZipArchive: Sendable {
    /// The file's name, used in error messages.
    public let source: String
    /// The entries in central-directory order.
    public let entries: [ZipEntry]
    private let bytes: [UInt8]
    private let index: [String: Int]

    /// The four bytes every ZIP archive with at least one entry starts with (`PK\3\4`).
    public static let localHeaderMagic: [UInt8] = [0x50, 0x4B, 0x03, 0x04]

    /// Whether `bytes` start like a ZIP archive (a local header, or the end record of an empty archive).
    public static func hasMagic(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B
            && ((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6))
    }

    /// Reads the archive at `path`.
    ///
    /// - Throws: ``FileError/cannotRead(path:reason:)`` or ``ZipError``.
    public init(contentsOf path: String) throws {
        try self.init(bytes: SafeTensorsArchive.readFile(path), source: path)
    }

    /// Parses and validates an archive; see the type's documentation for what is checked.
    public init(bytes: [UInt8], source: String = "<memory>") throws {
        func malformed(_ reason: String) -> ZipError { .malformed(source: source, reason: reason) }
        let reader = LittleEndianBytes(bytes)

        // The end record: 22 bytes plus a comment of at most 65,535 bytes that ends the file.
        guard bytes.count >= 22 else { throw ZipError.notAnArchive(source: source) }
        var endOffset: Int?
        var candidate = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        while candidate >= lowest {
            if reader.u32(candidate) == 0x0605_4B50, Int(reader.u16(candidate + 20)) == bytes.count - candidate - 22 {
                endOffset = candidate
                break
            }
            candidate -= 1
        }
        guard let end = endOffset else { throw ZipError.notAnArchive(source: source) }
        let diskNumber = reader.u16(end + 4), directoryDisk = reader.u16(end + 6)
        let entriesOnDisk = reader.u16(end + 8), totalEntries = reader.u16(end + 10)
        let directorySize = reader.u32(end + 12), directoryOffset = reader.u32(end + 16)
        if totalEntries == 0xFFFF || entriesOnDisk == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            throw ZipError.zip64(source: source, entry: nil)
        }
        guard diskNumber == 0, directoryDisk == 0, entriesOnDisk == totalEntries else {
            throw malformed("it spans several disks")
        }
        let directoryStart = Int(directoryOffset), directoryEnd = Int(directoryOffset) + Int(directorySize)
        guard directoryEnd <= end else {
            throw malformed("the central directory (bytes \(directoryStart)..<\(directoryEnd)) runs past its end record at byte \(end)")
        }

        var entries: [ZipEntry] = []
        entries.reserveCapacity(Int(totalEntries))
        var index: [String: Int] = [:]
        var cursor = directoryStart
        for number in 0..<Int(totalEntries) {
            guard cursor + 46 <= directoryEnd, reader.u32(cursor) == 0x0201_4B50 else {
                throw malformed("central directory header \(number + 1) of \(totalEntries) is missing or cut short at byte \(cursor)")
            }
            let flags = reader.u16(cursor + 8), methodCode = Int(reader.u16(cursor + 10))
            let crc = reader.u32(cursor + 16)
            let compressed = reader.u32(cursor + 20), uncompressed = reader.u32(cursor + 24)
            let nameLength = Int(reader.u16(cursor + 28)), extraLength = Int(reader.u16(cursor + 30))
            let commentLength = Int(reader.u16(cursor + 32))
            let headerOffset = reader.u32(cursor + 42)
            let next = cursor + 46 + nameLength + extraLength + commentLength
            guard next <= directoryEnd else {
                throw malformed("central directory header \(number + 1) runs past the end of the directory")
            }
            let nameBytes = Array(bytes[(cursor + 46)..<(cursor + 46 + nameLength)])
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw malformed("entry \(number + 1) has a name that is not UTF-8")
            }
            if compressed == 0xFFFF_FFFF || uncompressed == 0xFFFF_FFFF || headerOffset == 0xFFFF_FFFF {
                throw ZipError.zip64(source: source, entry: name)
            }
            if flags & 0x41 != 0 { throw ZipError.encrypted(source: source, entry: name) }
            let method: ZipEntry.Method
            switch methodCode {
            case 0:
                method = .stored
                guard compressed == uncompressed else {
                    throw malformed("stored entry \(name.debugDescription) has compressed size \(compressed) but size \(uncompressed)")
                }
            case 8: method = .deflated
            default: throw ZipError.unsupportedMethod(source: source, entry: name, method: methodCode)
            }
            guard index[name] == nil else { throw ZipError.duplicateName(source: source, entry: name) }

            // The local header: signature, the same name; its sizes may be 0 (data descriptor) or zip64 markers.
            let local = Int(headerOffset)
            guard local + 30 <= directoryStart, reader.u32(local) == 0x0403_4B50 else {
                throw malformed("entry \(name.debugDescription) has no local header at byte \(local)")
            }
            let localNameLength = Int(reader.u16(local + 26)), localExtraLength = Int(reader.u16(local + 28))
            let dataOffset = local + 30 + localNameLength + localExtraLength
            guard dataOffset <= directoryStart, Array(bytes[(local + 30)..<(local + 30 + localNameLength)]) == nameBytes else {
                throw malformed("entry \(name.debugDescription): the local header at byte \(local) does not match the central directory")
            }
            guard Int(compressed) <= directoryStart - dataOffset else {
                throw malformed("entry \(name.debugDescription) (\(compressed) bytes from byte \(dataOffset)) runs into the central directory at byte \(directoryStart)")
            }
            index[name] = entries.count
            entries.append(ZipEntry(name: name, method: method, crc32: crc, compressedSize: Int(compressed),
                                    uncompressedSize: Int(uncompressed), dataOffset: dataOffset, headerOffset: local))
            cursor = next
        }
        guard cursor == directoryEnd else {
            throw malformed("the central directory holds \(directoryEnd - cursor) bytes after its \(totalEntries) headers")
        }

        // Each entry's local header and data must end before the next entry's local header begins.
        let byPosition = entries.sorted { $0.headerOffset < $1.headerOffset }
        for (first, second) in zip(byPosition, byPosition.dropFirst()) where first.dataOffset + first.compressedSize > second.headerOffset {
            throw ZipError.overlappingEntries(source: source, first: first.name, second: second.name)
        }
        self.source = source
        self.entries = entries
        self.bytes = bytes
        self.index = index
    }

    /// The entry called `name`, if there is one.
    public func entry(named name: String) -> ZipEntry? {
        index[name].map { entries[$0] }
    }

    /// The uncompressed contents of the entry `name`, checked against its size and CRC-32.
    ///
    /// - Parameter inflate: decompresses raw deflate data to the given size; when nil, a deflated entry is
    ///   refused with ``ZipError/compressed(source:entry:)``.
    /// - Throws: ``ZipError`` (missing entry, compressed entry, size or CRC mismatch), or what `inflate` throws.
    public func contents(of name: String,
                         inflate: ((ArraySlice<UInt8>, _ uncompressedSize: Int) throws -> [UInt8])? = nil) throws -> [UInt8] {
        guard let entry = entry(named: name) else { throw ZipError.missingEntry(source: source, entry: name) }
        let raw = bytes[entry.dataOffset..<(entry.dataOffset + entry.compressedSize)]
        let data: [UInt8]
        switch entry.method {
        case .stored:
            data = Array(raw)
        case .deflated:
            guard let inflate else { throw ZipError.compressed(source: source, entry: name) }
            data = try inflate(raw, entry.uncompressedSize)
            guard data.count == entry.uncompressedSize else {
                throw ZipError.malformed(source: source, reason: "entry \(name.debugDescription) inflates to \(data.count) bytes, not the \(entry.uncompressedSize) recorded")
            }
        }
        guard CRC32.checksum(data) == entry.crc32 else { throw ZipError.checksumMismatch(source: source, entry: name) }
        return data
    }

    /// A ZIP archive storing `files` uncompressed, in the order given: each a local header, its bytes, then
    /// the central directory and the end record. Timestamps are fixed (1980-01-01 00:00), so the same files
    /// always give the same bytes. Names are marked UTF-8.
    ///
    /// - Precondition: names are unique, at most 65,535 files, each name under 64 KiB, and every offset and
    ///   size below 4 GiB (no zip64).
    public static func stored(_ files: [(name: String, bytes: [UInt8])]) -> [UInt8] {
        precondition(files.count < 0xFFFF, "ZipArchive.stored: \(files.count) files need zip64")
        precondition(Set(files.map(\.name)).count == files.count, "ZipArchive.stored: duplicate names in \(files.map(\.name))")
        var output: [UInt8] = []
        var directory: [UInt8] = []
        func append16(_ value: Int, to buffer: inout [UInt8]) {
            buffer += [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)]
        }
        func append32(_ value: UInt32, to buffer: inout [UInt8]) {
            buffer += [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
        }
        for file in files {
            let name = Array(file.name.utf8)
            precondition(name.count <= 0xFFFF && file.bytes.count < 0xFFFF_FFFF && output.count < 0xFFFF_FFFF,
                         "ZipArchive.stored: \(file.name) needs zip64")
            let crc = CRC32.checksum(file.bytes)
            let offset = UInt32(output.count)
            // Shared fields of both headers: version needed 2.0, flags (bit 11: UTF-8 names), stored, time, date, CRC, sizes.
            var common: [UInt8] = []
            append16(20, to: &common)
            append16(0x0800, to: &common)
            append16(0, to: &common)
            append16(0, to: &common)
            append16(0x21, to: &common)
            append32(crc, to: &common)
            append32(UInt32(file.bytes.count), to: &common)
            append32(UInt32(file.bytes.count), to: &common)
            append16(name.count, to: &common)
            append16(0, to: &common)

            append32(0x0403_4B50, to: &output)
            output += common + name + file.bytes

            append32(0x0201_4B50, to: &directory)
            append16(0x031E, to: &directory)    // made by: Unix, spec 3.0
            directory += common
            append16(0, to: &directory)         // comment length
            append16(0, to: &directory)         // disk
            append16(0, to: &directory)         // internal attributes
            append32(0o100644 << 16, to: &directory)   // external attributes: a regular file, rw-r--r--
            append32(offset, to: &directory)
            directory += name
        }
        let directoryOffset = UInt32(output.count)
        output += directory
        append32(0x0605_4B50, to: &output)
        append16(0, to: &output)
        append16(0, to: &output)
        append16(files.count, to: &output)
        append16(files.count, to: &output)
        append32(UInt32(directory.count), to: &output)
        append32(directoryOffset, to: &output)
        append16(0, to: &output)
        return output
    }
}

/// Little-endian integers at byte offsets of a buffer; callers check the bounds first.
struct LittleEndianBytes {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
    func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
}
