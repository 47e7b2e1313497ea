import Foundation
import Storage

/// The values of a `.npy` array: the two element types the toolkit exchanges images in, and float64 for
/// statistics (pytorch-fid's `mu` and `sigma`).
public enum NPYElements: Equatable, Sendable {
    /// `'|u1'`: unsigned bytes (pixels 0...255).
    case uint8([UInt8])
    /// `'<f4'`: little-endian Float32.
    case float32([Float])
    /// `'<f8'`: little-endian Float64.
    case float64([Double])

    public var count: Int {
        switch self {
        case .uint8(let v): return v.count
        case .float32(let v): return v.count
        case .float64(let v): return v.count
        }
    }

    /// The numpy `descr` string.
    public var descr: String {
        switch self {
        case .uint8: return "|u1"
        case .float32: return "<f4"
        case .float64: return "<f8"
        }
    }
}

/// A C-ordered n-dimensional array read from or written to a `.npy` file.
public struct NPYArray: Equatable, Sendable {
    public let shape: [Int]
    public let elements: NPYElements

    /// `elements.count` must be the product of `shape`.
    public init(shape: [Int], elements: NPYElements) {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == elements.count,
                     "NPYArray: \(elements.count) values do not fill shape \(shape)")
        self.shape = shape
        self.elements = elements
    }
}

/// A `.npy` file that this reader does not accept; one line naming the file and the problem.
public struct NPYError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) { self.path = path; self.reason = reason }

    /// One line: the reason may quote header text, whose control characters are escaped.
    public var description: String { "\(path) is not a .npy file this toolkit reads: \(oneLine(reason))" }
}

/// A strict reader and writer of numpy's `.npy` format (versions 1.0, 2.0 and 3.0), for the element
/// types `'|u1'`, `'<f4'` and `'<f8'`, C order only.
///
/// Layout: the magic `\x93NUMPY`, major and minor version bytes, the header length (UInt16 little-endian
/// for version 1, UInt32 for 2 and 3), then the header: an ASCII Python dict literal with exactly the keys
/// `'descr'`, `'fortran_order'` and `'shape'`, padded with spaces and ended by a newline, then the data.
/// Everything is validated: magic, version, the dict's keys and values (unknown descr, Fortran order,
/// negative or malformed shapes are rejected) and that the data is exactly as long as the shape says.
///
/// Provenance: numpy/lib/format.py (the format specification, NEP 1).
public enum NPY {
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]   // \x93NUMPY

    /// Reads and validates the `.npy` file at `path`.
    public static func read(contentsOf path: String) throws -> NPYArray {
        try decode(FileBytes.read(path), source: path)
    }

    /// Whether `bytes` start with the `.npy` magic.
    public static func hasMagic(_ bytes: [UInt8]) -> Bool { bytes.count >= 6 && Array(bytes[0..<6]) == magic }

    /// Decodes the bytes of a `.npy` file; `source` names it in errors.
    public static func decode(_ bytes: [UInt8], source: String) throws -> NPYArray {
        func fail(_ reason: String) -> NPYError { NPYError(path: source, reason: reason) }
        guard hasMagic(bytes) else { throw fail("it does not start with the magic \\x93NUMPY") }
        guard bytes.count >= 10 else { throw fail("it ends inside its preamble (\(bytes.count) bytes)") }
        let major = bytes[6], minor = bytes[7]
        guard (1...3).contains(major), minor == 0 else { throw fail("unsupported format version \(major).\(minor) (1.0, 2.0, 3.0 are read)") }
        let lengthBytes = major == 1 ? 2 : 4
        guard bytes.count >= 8 + lengthBytes else { throw fail("it ends inside its header length") }
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(bytes[8 + i]) << (8 * i) }
        let dataStart = 8 + lengthBytes + headerLength
        guard bytes.count >= dataStart else {
            throw fail("its header claims \(headerLength) bytes but the file has \(bytes.count - 8 - lengthBytes) after the preamble")
        }
        guard let header = String(bytes: bytes[(8 + lengthBytes)..<dataStart], encoding: major == 3 ? .utf8 : .ascii) else {
            throw fail("its header is not \(major == 3 ? "UTF-8" : "ASCII") text")
        }
        let (descr, fortranOrder, shape) = try parseHeader(header, fail: fail)
        guard !fortranOrder else { throw fail("fortran_order is True (only C-ordered arrays are read)") }
        let itemSize: Int
        switch descr {
        case "|u1", "<u1": itemSize = 1
        case "<f4": itemSize = 4
        case "<f8": itemSize = 8
        default: throw fail("element type '\(descr)' is not supported (use '|u1' for bytes, '<f4' for float32 or '<f8' for float64)")
        }
        var count = 1
        for size in shape {
            let product = count.multipliedReportingOverflow(by: size)
            guard !product.overflow else { throw fail("shape \(shape) is too large") }
            count = product.partialValue
        }
        let expected = count.multipliedReportingOverflow(by: itemSize)
        guard !expected.overflow, bytes.count - dataStart == expected.partialValue else {
            throw fail("shape \(shape) of '\(descr)' needs \(count * itemSize) data bytes, the file has \(bytes.count - dataStart)")
        }
        if itemSize == 1 {
            return NPYArray(shape: shape, elements: .uint8(Array(bytes[dataStart...])))
        }
        if itemSize == 8 {
            let values = [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                bytes.withUnsafeBytes { source in
                    for i in 0..<count {
                        buffer[i] = Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: dataStart + 8 * i, as: UInt64.self)))
                    }
                }
                initialized = count
            }
            return NPYArray(shape: shape, elements: .float64(values))
        }
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBufferPointer { source in
                for i in 0..<count {
                    let at = dataStart + 4 * i
                    let bits = UInt32(source[at]) | UInt32(source[at + 1]) << 8 | UInt32(source[at + 2]) << 16 | UInt32(source[at + 3]) << 24
                    buffer[i] = Float(bitPattern: bits)
                }
            }
            initialized = count
        }
        return NPYArray(shape: shape, elements: .float32(values))
    }

    /// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 28, 28), }` strictly.
    static func parseHeader(_ header: String, fail: (String) -> NPYError) throws -> (String, Bool, [Int]) {
        guard header.hasSuffix("\n") else { throw fail("its header does not end with a newline") }
        var text = Substring(header.dropLast())
        while text.last == " " { text = text.dropLast() }
        func skipSpaces() { while text.first == " " { text = text.dropFirst() } }
        func expect(_ token: String) throws {
            skipSpaces()
            guard text.hasPrefix(token) else { throw fail("malformed header (expected \(token) at '\(text.prefix(20))')") }
            text = text.dropFirst(token.count)
        }
        func quoted() throws -> String {
            skipSpaces()
            guard let quote = text.first, quote == "'" || quote == "\"" else { throw fail("malformed header (expected a string at '\(text.prefix(20))')") }
            text = text.dropFirst()
            guard let end = text.firstIndex(of: quote) else { throw fail("malformed header (unterminated string)") }
            let value = String(text[..<end])
            text = text[text.index(after: end)...]
            return value
        }
        try expect("{")
        var descr: String?, fortran: Bool?, shape: [Int]?
        while true {
            skipSpaces()
            if text.first == "}" { text = text.dropFirst(); break }
            let key = try quoted()
            try expect(":")
            skipSpaces()
            switch key {
            case "descr":
                guard descr == nil else { throw fail("header repeats 'descr'") }
                descr = try quoted()
            case "fortran_order":
                guard fortran == nil else { throw fail("header repeats 'fortran_order'") }
                if text.hasPrefix("False") { fortran = false; text = text.dropFirst(5) }
                else if text.hasPrefix("True") { fortran = true; text = text.dropFirst(4) }
                else { throw fail("fortran_order must be True or False") }
            case "shape":
                guard shape == nil else { throw fail("header repeats 'shape'") }
                try expect("(")
                var dims: [Int] = []
                while true {
                    skipSpaces()
                    if text.first == ")" { text = text.dropFirst(); break }
                    let digits = text.prefix { $0.isASCII && $0.isNumber }
                    guard !digits.isEmpty, let value = Int(digits) else {
                        throw fail("shape must be a tuple of non-negative integers (at '\(text.prefix(20))')")
                    }
                    dims.append(value)
                    text = text.dropFirst(digits.count)
                    skipSpaces()
                    if text.first == "," { text = text.dropFirst() } else if text.first != ")" {
                        throw fail("malformed shape tuple (at '\(text.prefix(20))')")
                    }
                }
                shape = dims
            default:
                throw fail("unexpected header key '\(key)'")
            }
            skipSpaces()
            if text.first == "," { text = text.dropFirst() } else if text.first != "}" {
                throw fail("malformed header (expected , or } at '\(text.prefix(20))')")
            }
        }
        skipSpaces()
        guard text.isEmpty else { throw fail("trailing text after the header dict: '\(text.prefix(20))'") }
        guard let descr else { throw fail("header has no 'descr'") }
        guard let fortran else { throw fail("header has no 'fortran_order'") }
        guard let shape else { throw fail("header has no 'shape'") }
        return (descr, fortran, shape)
    }

    /// The bytes of a version 1.0 `.npy` file holding `array` (header padded so the data starts at a
    /// multiple of 64 bytes, as numpy writes it).
    public static func encode(_ array: NPYArray) -> [UInt8] {
        let shapeText: String
        switch array.shape.count {
        case 1: shapeText = "(\(array.shape[0]),)"
        default: shapeText = "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '\(array.elements.descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes = magic + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        switch array.elements {
        case .uint8(let values): bytes += values
        case .float32(let values):
            bytes.reserveCapacity(bytes.count + 4 * values.count)
            for v in values {
                let b = v.bitPattern
                bytes += [UInt8(b & 0xff), UInt8(b >> 8 & 0xff), UInt8(b >> 16 & 0xff), UInt8(b >> 24)]
            }
        case .float64(let values):
            bytes.reserveCapacity(bytes.count + 8 * values.count)
            for v in values {
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
            }
        }
        return bytes
    }

    /// Writes `array` as a `.npy` file, atomically (a crash leaves the old file or the complete new one).
    public static func write(_ array: NPYArray, to path: String) throws {
        try writeAtomically(encode(array), to: path)
    }
}
