import Foundation
import Storage

/// An n-dimensional array of unsigned bytes read from an IDX file, in row-major order.
public struct IDXArray: Equatable, Sendable {
    /// The size of each dimension, outermost first (for MNIST images: count, rows, columns).
    public let dimensions: [Int]
    /// The values, `dimensions.reduce(1, *)` of them, last dimension varying fastest.
    public let values: [UInt8]

    /// Creates an array; `values.count` must equal the product of `dimensions`.
    public init(dimensions: [Int], values: [UInt8]) {
        precondition(dimensions.allSatisfy { $0 >= 0 } && dimensions.reduce(1, *) == values.count,
                     "IDXArray: \(values.count) values do not fill dimensions \(dimensions)")
        self.dimensions = dimensions
        self.values = values
    }
}

/// Reading and writing IDX files, the format of the MNIST distribution.
///
/// Layout: the magic `00 00`, an element-type byte, the number of dimensions, then each dimension as a
/// big-endian `UInt32`, then the values. Only the unsigned-byte element type (`0x08`) is supported,
/// which is the one MNIST uses. Files may be gzip-compressed; compression is detected by content.
public enum IDX {
    /// The IDX element-type code for unsigned bytes.
    public static let unsignedByteType: UInt8 = 0x08

    /// Reads an IDX file, gzip-compressed or raw.
    ///
    /// - Parameters:
    ///   - path: The file to read.
    ///   - dimensionCount: The number of dimensions the caller expects (3 for images, 1 for labels), or
    ///     `nil` to accept any.
    /// - Throws: `DatasetError` naming `path` if the file cannot be read, is damaged, is not an unsigned
    ///   byte IDX file, has another number of dimensions, or is shorter or longer than its header says.
    public static func read(contentsOf path: String, dimensionCount: Int?) throws -> IDXArray {
        try decode(Gzip.contentsOfFile(atPath: path), dimensionCount: dimensionCount, source: path)
    }

    /// Decodes the bytes of an (uncompressed) IDX file; `source` names it in error messages.
    public static func decode(_ bytes: [UInt8], dimensionCount: Int?, source: String) throws -> IDXArray {
        guard bytes.count >= 4 else {
            throw DatasetError.truncated(path: source, expectedBytes: 4, actualBytes: bytes.count)
        }
        guard bytes[0] == 0, bytes[1] == 0 else { throw DatasetError.notIDX(path: source) }
        guard bytes[2] == unsignedByteType else {
            throw DatasetError.unsupportedElementType(path: source, typeCode: bytes[2])
        }
        let rank = Int(bytes[3])
        if let dimensionCount, rank != dimensionCount {
            throw DatasetError.wrongDimensionCount(path: source, expected: dimensionCount, found: rank)
        }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw DatasetError.truncated(path: source, expectedBytes: headerSize, actualBytes: bytes.count)
        }
        var dimensions: [Int] = []
        dimensions.reserveCapacity(rank)
        var payloadSize = 1
        var overflow = false
        for axis in 0..<rank {
            let at = 4 + 4 * axis
            let size = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            dimensions.append(size)
            let product = payloadSize.multipliedReportingOverflow(by: size)
            payloadSize = product.partialValue
            overflow = overflow || product.overflow
        }
        let total = payloadSize.addingReportingOverflow(headerSize)
        guard !overflow, !total.overflow else {
            throw DatasetError.dimensionsTooLarge(path: source, dimensions: dimensions)
        }
        if bytes.count < total.partialValue {
            throw DatasetError.truncated(path: source, expectedBytes: total.partialValue, actualBytes: bytes.count)
        }
        if bytes.count > total.partialValue {
            throw DatasetError.trailingBytes(path: source, expectedBytes: total.partialValue, actualBytes: bytes.count)
        }
        return IDXArray(dimensions: dimensions, values: Array(bytes[headerSize...]))
    }

    /// The bytes of an uncompressed IDX file holding `values` with the given dimensions.
    ///
    /// - Throws: `DatasetError.shapeMismatch` if there are not 1 to 255 dimensions, a dimension does
    ///   not fit in a `UInt32`, or the product of `dimensions` is not `values.count`.
    public static func encode(_ values: [UInt8], dimensions: [Int], source: String = "IDX data") throws -> [UInt8] {
        var product = 1
        var valid = (1...255).contains(dimensions.count)
        for size in dimensions {
            guard valid, size >= 0, size <= Int(UInt32.max) else { valid = false; break }
            let next = product.multipliedReportingOverflow(by: size)
            valid = !next.overflow
            product = next.partialValue
        }
        guard valid, product == values.count else {
            throw DatasetError.shapeMismatch(path: source, dimensions: dimensions, valueCount: values.count)
        }
        var bytes: [UInt8] = [0, 0, unsignedByteType, UInt8(dimensions.count)]
        bytes.reserveCapacity(4 + 4 * dimensions.count + values.count)
        for size in dimensions {
            bytes += [UInt8(truncatingIfNeeded: size >> 24), UInt8(truncatingIfNeeded: size >> 16),
                      UInt8(truncatingIfNeeded: size >> 8), UInt8(truncatingIfNeeded: size)]
        }
        bytes += values
        return bytes
    }

    /// Writes `values` as an unsigned-byte IDX file, gzip-compressed when `path` ends in `.gz`.
    ///
    /// The file is replaced atomically: a crash leaves either the old file or the complete new one.
    /// - Throws: `DatasetError.shapeMismatch` (see `encode`) or `DatasetError.cannotWrite`.
    public static func write(_ values: [UInt8], dimensions: [Int], to path: String) throws {
        var bytes = try encode(values, dimensions: dimensions, source: path)
        if path.hasSuffix(".gz") { bytes = try Gzip.compress(bytes) }
        try writeAtomically(bytes, to: path)
    }

    /// Writes an `IDXArray`, gzip-compressed when `path` ends in `.gz`.
    public static func write(_ array: IDXArray, to path: String) throws {
        try write(array.values, dimensions: array.dimensions, to: path)
    }
}

/// `AtomicFile.write` with its errors turned into `DatasetError.cannotWrite`.
func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    do {
        try bytes.withUnsafeBytes { try AtomicFile.write(bytes: $0, to: path) }
    } catch let error as FileError {
        switch error {
        case let .cannotCreate(_, reason), let .writeFailed(_, reason), let .cannotRead(_, reason):
            throw DatasetError.cannotWrite(path: path, reason: reason)
        }
    }
}
