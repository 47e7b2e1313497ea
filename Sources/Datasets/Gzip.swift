import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// gzip compression and decompression with zlib.
///
/// Decompression accepts multi-member files (members are concatenated, as `gunzip` does) and zero
/// padding after the last member; truncated or corrupt input is reported as a `DatasetError`, never a
/// crash.
public enum Gzip {
    /// Whether `bytes` starts with the gzip magic bytes `1f 8b`.
    public static func isCompressed<Bytes: ContiguousBytes>(_ bytes: Bytes) -> Bool {
        bytes.withUnsafeBytes { isCompressed($0) }
    }

    /// Whether the buffer starts with the gzip magic bytes `1f 8b`.
    public static func isCompressed(_ buffer: UnsafeRawBufferPointer) -> Bool {
        buffer.count >= 2 && buffer[0] == 0x1f && buffer[1] == 0x8b
    }

    /// The contents of the file at `path`, decompressed if it is gzip (detected by its magic bytes,
    /// not by its name) and as they are otherwise.
    public static func contentsOfFile(atPath path: String) throws -> [UInt8] {
        let bytes = try FileBytes.read(path)
        return isCompressed(bytes) ? try decompress(bytes, source: path) : bytes
    }

    /// Decompresses gzip data.
    ///
    /// - Parameters:
    ///   - bytes: One or more concatenated gzip members.
    ///   - source: The file name or URL used in error messages.
    /// - Throws: `DatasetError.corruptGzip` for damaged data (including a CRC mismatch or data that is
    ///   not gzip), `DatasetError.truncatedGzip` when the stream stops early.
    public static func decompress<Bytes: ContiguousBytes>(_ bytes: Bytes, source: String = "gzip data") throws -> [UInt8] {
        try bytes.withUnsafeBytes { try decompress(buffer: $0, source: source) }
    }

    /// Compresses `bytes` into a single gzip member.
    public static func compress<Bytes: ContiguousBytes>(_ bytes: Bytes, level: Int32 = Z_DEFAULT_COMPRESSION) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try compress(buffer: $0, level: level) }
    }

    /// Inflates raw deflate data (RFC 1951, no zlib or gzip framing: a ZIP entry's method 8) that must come to
    /// exactly `expectedSize` bytes. The output is never allocated beyond `expectedSize + 1` bytes, and a size
    /// beyond deflate's 1032:1 limit for the input is refused before anything is allocated.
    ///
    /// - Throws: `DatasetError.corruptGzip` naming `source` for damaged data, or data that inflates to another size.
    public static func inflateRaw(_ bytes: ArraySlice<UInt8>, expectedSize: Int, source: String) throws -> [UInt8] {
        guard expectedSize >= 0, expectedSize / 1032 <= bytes.count + 1 else {
            throw DatasetError.corruptGzip(path: source, detail: "\(bytes.count) deflated bytes cannot inflate to the \(expectedSize) recorded")
        }
        var stream = z_stream()
        let initStatus = inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw DatasetError.corruptGzip(path: source, detail: "zlib could not start (status \(initStatus))")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: expectedSize + 1)
        var status: Int32 = Z_OK
        var produced = 0
        bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                var offeredIn = 0
                while true {
                    if stream.avail_in == 0 && offeredIn < input.count {
                        let chunk = min(input.count - offeredIn, chunkLimit)
                        stream.avail_in = UInt32(chunk)
                        offeredIn += chunk
                    }
                    let room = min(out.count - produced, chunkLimit)
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = UInt32(room)
                    status = inflate(&stream, Z_NO_FLUSH)
                    produced += room - Int(stream.avail_out)
                    if status != Z_OK || produced == out.count { return }
                    if stream.avail_in == 0 && offeredIn == input.count && room == Int(stream.avail_out) { status = Z_BUF_ERROR; return }
                }
            }
        }
        guard status == Z_STREAM_END else {
            if produced > expectedSize {
                throw DatasetError.corruptGzip(path: source, detail: "the data inflates to more than the \(expectedSize) bytes recorded")
            }
            if status == Z_OK || status == Z_BUF_ERROR {
                throw DatasetError.corruptGzip(path: source, detail: "the deflate stream ends early, after \(produced) of \(expectedSize) bytes")
            }
            throw DatasetError.corruptGzip(path: source, detail: zlibMessage(stream, status: status))
        }
        guard produced == expectedSize else {
            throw DatasetError.corruptGzip(path: source, detail: "the data inflates to \(produced) bytes, not the \(expectedSize) recorded")
        }
        output.removeLast()
        return output
    }

    // MARK: - Implementation

    /// Largest chunk handed to zlib at once: its counters are 32-bit.
    private static let chunkLimit = 1 << 30

    private static func decompress(buffer input: UnsafeRawBufferPointer, source: String) throws -> [UInt8] {
        guard isCompressed(input), let inputBase = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw DatasetError.corruptGzip(path: source, detail: "not gzip data, the magic bytes 1f 8b are missing")
        }
        var stream = z_stream()
        let initStatus = inflateInit2_(&stream, MAX_WBITS + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw DatasetError.corruptGzip(path: source, detail: "zlib could not start (status \(initStatus))")
        }
        defer { inflateEnd(&stream) }

        var output = GrowableBuffer(capacity: initialCapacity(for: input))
        stream.next_in = UnsafeMutablePointer(mutating: inputBase)
        stream.avail_in = 0

        while true {
            let consumed = inputBase.distance(to: stream.next_in)
            if stream.avail_in == 0 && consumed < input.count {
                stream.avail_in = UInt32(min(input.count - consumed, chunkLimit))
            }
            if output.spare == 0 { try output.grow(source: source) }
            let offered = min(output.spare, chunkLimit)
            stream.next_out = output.end
            stream.avail_out = UInt32(offered)
            let status = inflate(&stream, Z_NO_FLUSH)
            output.count += offered - Int(stream.avail_out)

            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                // One member done. Another may follow, or zero padding; anything else is damage.
                var position = inputBase.distance(to: stream.next_in)
                while position < input.count && input[position] == 0 { position += 1 }
                if position == input.count { return output.finish() }
                guard position + 1 < input.count, input[position] == 0x1f, input[position + 1] == 0x8b else {
                    throw DatasetError.corruptGzip(
                        path: source, detail: "\(input.count - position) unexpected bytes after the gzip stream")
                }
                guard inflateReset(&stream) == Z_OK else {
                    throw DatasetError.corruptGzip(path: source, detail: "zlib could not restart for the next member")
                }
                stream.next_in = UnsafeMutablePointer(mutating: inputBase + position)
                stream.avail_in = 0
            case Z_BUF_ERROR:
                // No progress was possible: either the output is full (grow next turn) or the input ran out.
                if stream.avail_out == 0 { continue }
                if stream.avail_in == 0 && inputBase.distance(to: stream.next_in) >= input.count {
                    throw DatasetError.truncatedGzip(path: source)
                }
                throw DatasetError.corruptGzip(path: source, detail: zlibMessage(stream, status: status))
            case Z_MEM_ERROR:
                throw DatasetError.corruptGzip(path: source, detail: "zlib ran out of memory")
            default: // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
                throw DatasetError.corruptGzip(path: source, detail: zlibMessage(stream, status: status))
            }
        }
    }

    private static func compress(buffer input: UnsafeRawBufferPointer, level: Int32) throws -> [UInt8] {
        var stream = z_stream()
        let initStatus = deflateInit2_(&stream, level, Z_DEFLATED, MAX_WBITS + 16, 8, Z_DEFAULT_STRATEGY,
                                       ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw DatasetError.cannotWrite(path: "gzip data", reason: "zlib could not start (status \(initStatus))")
        }
        defer { deflateEnd(&stream) }
        let bound = input.count <= chunkLimit ? Int(deflateBound(&stream, UInt(input.count))) : input.count + input.count / 8 + 1024
        var output = GrowableBuffer(capacity: max(bound, 64))
        let inputBase = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        var position = 0
        while true {
            let chunk = min(input.count - position, chunkLimit)
            stream.next_in = inputBase.map { UnsafeMutablePointer(mutating: $0 + position) }
            stream.avail_in = UInt32(chunk)
            let flush = position + chunk == input.count ? Z_FINISH : Z_NO_FLUSH
            var status: Int32
            repeat {
                if output.spare == 0 { try output.grow(source: "gzip data") }
                let offered = min(output.spare, chunkLimit)
                stream.next_out = output.end
                stream.avail_out = UInt32(offered)
                status = deflate(&stream, flush)
                output.count += offered - Int(stream.avail_out)
                if status == Z_STREAM_ERROR {
                    throw DatasetError.cannotWrite(path: "gzip data", reason: "zlib failed to compress")
                }
            } while stream.avail_out == 0 || (flush == Z_FINISH && status != Z_STREAM_END)
            position += chunk
            if flush == Z_FINISH { return output.finish() }
        }
    }

    /// A starting size for the output: the gzip trailer holds the size of the last member modulo 2^32,
    /// which is exact for ordinary single-member files. Deflate cannot expand more than 1032:1, so a
    /// larger claim is ignored.
    private static func initialCapacity(for input: UnsafeRawBufferPointer) -> Int {
        let fallback = max(input.count * 4, 4096)
        guard input.count >= 18 else { return fallback }
        let n = input.count
        let size = Int(input[n - 4]) | Int(input[n - 3]) << 8 | Int(input[n - 2]) << 16 | Int(input[n - 1]) << 24
        guard size > 0, size / 1032 <= input.count else { return fallback }
        return size + 1 // one spare byte, so that a correct guess finishes without growing
    }

    private static func zlibMessage(_ stream: z_stream, status: Int32) -> String {
        if let message = stream.msg { return String(cString: message) }
        return "zlib status \(status)"
    }
}

/// A malloc'd byte buffer that doubles when full, then hands its bytes over as an array.
///
/// Noncopyable with a `deinit`, so the memory is freed on every path: after `finish()`, and when
/// decompression throws half-way (the fuzzer found both leaking when this was a plain struct).
private struct GrowableBuffer: ~Copyable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    var spare: Int { capacity - count }
    var end: UnsafeMutablePointer<UInt8> { base + count }

    mutating func grow(source: String) throws {
        let (doubled, overflow) = capacity.multipliedReportingOverflow(by: 2)
        guard !overflow else { throw DatasetError.corruptGzip(path: source, detail: "the data is too large") }
        let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: doubled)
        larger.update(from: base, count: count)
        base.deallocate()
        base = larger
        capacity = doubled
    }

    /// The bytes written so far; the buffer is freed when this consumes it.
    consuming func finish() -> [UInt8] {
        let count = self.count, base = self.base
        return [UInt8](unsafeUninitializedCapacity: count) { destination, initialized in
            destination.baseAddress?.update(from: base, count: count)
            initialized = count
        }
    }
}

/// Whole-file reads straight into an array, with errors that name the file.
enum FileBytes {
    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw DatasetError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw DatasetError.cannotRead(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw DatasetError.cannotRead(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        var failure: String?
        var bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            while initialized < size {
                let n = Glibc.read(fd, buffer.baseAddress! + initialized, size - initialized)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno)); return
                }
                if n == 0 { break } // the file shrank while reading
                initialized += n
            }
        }
        if let failure { throw DatasetError.cannotRead(path: path, reason: failure) }
        // The file may have grown since fstat: read whatever follows.
        var tail = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = tail.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DatasetError.cannotRead(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            bytes.append(contentsOf: tail[0..<n])
        }
        return bytes
    }
}
