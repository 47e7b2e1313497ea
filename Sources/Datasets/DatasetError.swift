/// Everything that can go wrong while reading, writing or downloading dataset files.
///
/// Each `description` is one line that names the file and says what to do about it.
public indirect enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// A file could not be opened or read (missing, unreadable, or a folder).
    case cannotRead(path: String, reason: String)
    /// A file could not be written.
    case cannotWrite(path: String, reason: String)
    /// The data starts like gzip but the deflate stream or its trailer is damaged.
    case corruptGzip(path: String, detail: String)
    /// The gzip stream ends before its end-of-stream marker and trailer.
    case truncatedGzip(path: String)
    /// The first two bytes are not the IDX magic `00 00`.
    case notIDX(path: String)
    /// The IDX element type is not unsigned byte (`0x08`), the only type MNIST uses.
    case unsupportedElementType(path: String, typeCode: UInt8)
    /// The IDX file has a different number of dimensions than the caller expects.
    case wrongDimensionCount(path: String, expected: Int, found: Int)
    /// The header or the values stop before the size the header announces.
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    /// There are more bytes after the values than the header announces.
    case trailingBytes(path: String, expectedBytes: Int, actualBytes: Int)
    /// The product of the dimensions does not fit in memory (or in an `Int`).
    case dimensionsTooLarge(path: String, dimensions: [Int])
    /// Values and dimensions passed to a writer do not agree.
    case shapeMismatch(path: String, dimensions: [Int], valueCount: Int)
    /// The images file and the labels file of one split hold different numbers of examples.
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    /// A dataset file is in neither its compressed nor its decompressed form.
    case missingFile(directory: String, name: String)
    /// A downloaded file does not have the expected SHA-256. `source` is the mirror.
    case checksumMismatch(file: String, source: String, actual: String, expected: String)
    /// The server answered with an HTTP status other than 200. `source` is the mirror.
    case httpStatus(file: String, source: String, status: Int)
    /// The request failed before a response arrived (connection refused, timeout, DNS...). `source` is
    /// the mirror.
    case transferFailed(file: String, source: String, reason: String)
    /// Every mirror failed for `file`; `failures` holds one error per mirror, in the order tried.
    case noMirrorSucceeded(file: String, failures: [DatasetError])

    public var description: String {
        switch self {
        case let .cannotRead(path, reason):
            return "cannot read \(path): \(reason) (check the path, or pass --data DIR / set MNIST_DIR)"
        case let .cannotWrite(path, reason):
            return "cannot write \(path): \(reason) (check that the folder exists and is writable)"
        case let .corruptGzip(path, detail):
            return "\(path): corrupt gzip data (\(detail)); delete the file and download it again"
        case let .truncatedGzip(path):
            return "\(path): the gzip stream ends early (the file is truncated); delete it and download it again"
        case let .notIDX(path):
            return "\(path): not an IDX file (it does not start with 00 00); check that it is an MNIST file"
        case let .unsupportedElementType(path, typeCode):
            return "\(path): IDX element type \(Self.hex(typeCode)) is not supported; MNIST files hold "
                + "unsigned bytes (0x08), check that this is an MNIST file"
        case let .wrongDimensionCount(path, expected, found):
            return "\(path): the IDX file has \(found) dimension\(found == 1 ? "" : "s") but \(expected) "
                + "\(expected == 1 ? "is" : "are") expected; check that images and labels files are not swapped"
        case let .truncated(path, expectedBytes, actualBytes):
            return "\(path): truncated, the header announces \(expectedBytes) bytes but the file holds "
                + "\(actualBytes); delete it and download it again"
        case let .trailingBytes(path, expectedBytes, actualBytes):
            return "\(path): \(actualBytes - expectedBytes) unexpected bytes after the \(expectedBytes) "
                + "the header announces; delete it and download it again"
        case let .dimensionsTooLarge(path, dimensions):
            return "\(path): IDX dimensions \(dimensions.map(String.init).joined(separator: "x")) are too "
                + "large; the header is damaged, delete the file and download it again"
        case let .shapeMismatch(path, dimensions, valueCount):
            return "cannot write \(path): dimensions \(dimensions.map(String.init).joined(separator: "x")) "
                + "do not match the \(valueCount) values given (fix the caller)"
        case let .countMismatch(imagesPath, images, labelsPath, labels):
            return "\(imagesPath) holds \(images) images but \(labelsPath) holds \(labels) labels; "
                + "the files come from different sets, download them again"
        case let .missingFile(directory, name):
            let plain = name.hasSuffix(".gz") ? String(name.dropLast(3)) : name
            return "\(name) (or \(plain)) not found in \(directory); download MNIST there, or pass "
                + "--data DIR / set MNIST_DIR"
        case let .checksumMismatch(file, _, _, _), let .httpStatus(file, _, _), let .transferFailed(file, _, _):
            return "\(file) \(mirrorDetail); the file was not written"
        case let .noMirrorSucceeded(file, failures):
            let details = failures.isEmpty ? "no mirror given" : failures.map(\.mirrorDetail).joined(separator: " | ")
            return "could not download \(file): \(details); the file was not written (try again later, "
                + "or pass --mirror URL)"
        }
    }

    /// For a failure at one mirror, "from <mirror>: <what happened>"; otherwise the description.
    private var mirrorDetail: String {
        switch self {
        case let .checksumMismatch(_, source, actual, expected):
            return "from \(source): SHA-256 \(Self.abbreviate(actual)) does not match the expected "
                + "\(Self.abbreviate(expected))"
        case let .httpStatus(_, source, status):
            return "from \(source): HTTP status \(status) (expected 200)"
        case let .transferFailed(_, source, reason):
            return "from \(source): \(reason)"
        default:
            return description
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return "0x" + (digits.count < 2 ? "0" : "") + digits
    }

    private static func abbreviate(_ digest: String) -> String {
        digest.count > 16 ? digest.prefix(16) + "…" : digest
    }
}
