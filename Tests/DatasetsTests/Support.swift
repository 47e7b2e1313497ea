import Datasets
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// A fresh folder under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "datasets-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func contents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}

/// The case of a `DatasetError`, without its payload, so tables can name the expected failure.
enum ErrorKind: String, CustomStringConvertible, Sendable {
    case cannotRead, cannotWrite, corruptGzip, truncatedGzip, notIDX, unsupportedElementType
    case wrongDimensionCount, truncated, trailingBytes, dimensionsTooLarge, shapeMismatch
    case countMismatch, missingFile, checksumMismatch, httpStatus, transferFailed, noMirrorSucceeded

    init(_ error: DatasetError) {
        switch error {
        case .cannotRead: self = .cannotRead
        case .cannotWrite: self = .cannotWrite
        case .corruptGzip: self = .corruptGzip
        case .truncatedGzip: self = .truncatedGzip
        case .notIDX: self = .notIDX
        case .unsupportedElementType: self = .unsupportedElementType
        case .wrongDimensionCount: self = .wrongDimensionCount
        case .truncated: self = .truncated
        case .trailingBytes: self = .trailingBytes
        case .dimensionsTooLarge: self = .dimensionsTooLarge
        case .shapeMismatch: self = .shapeMismatch
        case .countMismatch: self = .countMismatch
        case .missingFile: self = .missingFile
        case .checksumMismatch: self = .checksumMismatch
        case .httpStatus: self = .httpStatus
        case .transferFailed: self = .transferFailed
        case .noMirrorSucceeded: self = .noMirrorSucceeded
        }
    }

    var description: String { rawValue }
}

/// Runs `body` and returns the `DatasetError` it throws, recording an issue if it throws nothing or
/// something else.
func datasetError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> DatasetError? {
    do {
        try body()
        Issue.record("expected a DatasetError, but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as DatasetError {
        #expect(!error.description.contains("\n"), "error messages are one line", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a DatasetError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Deterministic pseudo-random bytes (a 32-bit LCG), so failures reproduce.
func pseudoRandomBytes(count: Int, seed: UInt32) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 1_664_525 &+ 1_013_904_223
        return UInt8(truncatingIfNeeded: state >> 24)
    }
}

/// A tiny MNIST-shaped set: `count` images of `rows` x `columns` and `count` labels.
struct TinyMNIST {
    let count: Int
    let rows: Int
    let columns: Int
    let pixels: [UInt8]
    let labels: [UInt8]

    init(count: Int = 5, rows: Int = 28, columns: Int = 28, seed: UInt32 = 1) {
        self.count = count
        self.rows = rows
        self.columns = columns
        // Mostly-zero images with a few bright strokes, like digits, plus the extremes 0 and 255.
        var pixels = pseudoRandomBytes(count: count * rows * columns, seed: seed).map { $0 < 160 ? 0 : $0 }
        pixels[0] = 0
        pixels[1] = 255
        self.pixels = pixels
        labels = (0..<count).map { UInt8(($0 * 3 + Int(seed)) % 10) }
    }

    /// Writes the split's two files (`.gz` names, gzip-compressed unless `compressed` is false, in
    /// which case the names lose `.gz`).
    func write(split: MNIST.Split, into directory: String, compressed: Bool = true) throws {
        let names = split.fileNames
        let strip = { (name: String) in compressed ? name : String(name.dropLast(3)) }
        try IDX.write(pixels, dimensions: [count, rows, columns], to: directory + "/" + strip(names.images))
        try IDX.write(labels, dimensions: [count], to: directory + "/" + strip(names.labels))
    }

    /// Writes both splits (the test split uses different content).
    static func writeAll(into directory: String) throws {
        try TinyMNIST(count: 5, seed: 1).write(split: .train, into: directory)
        try TinyMNIST(count: 3, seed: 2).write(split: .test, into: directory)
    }
}

/// `python3 -m http.server` on 127.0.0.1 with an OS-chosen port, serving `directory`.
final class LocalHTTPServer {
    let port: Int
    private let process: Process

    var baseURL: String { "http://127.0.0.1:\(port)/" }

    init(serving directory: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let buffer = LockedText()
        output.fileHandleForReading.readabilityHandler = { handle in buffer.append(handle.availableData) }
        try process.run()
        defer { output.fileHandleForReading.readabilityHandler = nil }

        // "Serving HTTP on 127.0.0.1 port 45678 (http://127.0.0.1:45678/) ..."
        let deadline = Date().addingTimeInterval(20)
        var found: Int?
        while found == nil && Date() < deadline && process.isRunning {
            if let range = buffer.text.range(of: #"port (\d+)"#, options: .regularExpression) {
                found = Int(buffer.text[range].dropFirst(5))
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        guard let found else {
            Self.kill(process)
            throw ServerError(message: "python3 http.server did not report its port within 20 s: \(buffer.text)")
        }
        port = found
    }

    /// Kills the server and waits for it to exit.
    ///
    /// SIGKILL, not `terminate()`: a child spawned from a test thread inherits that thread's signal
    /// mask, in which SIGTERM is blocked, so SIGTERM would never arrive.
    func stop() {
        Self.kill(process)
    }

    static func kill(_ process: Process) {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }

    struct ServerError: Error, CustomStringConvertible { let message: String; var description: String { message } }
}

private final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var storage = ""

    func append(_ data: Data) {
        lock.lock(); defer { lock.unlock() }
        storage += String(decoding: data, as: UTF8.self)
    }

    var text: String {
        lock.lock(); defer { lock.unlock() }
        return storage
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound by the OS, then released).
func closedPort() throws -> Int {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c",
                         "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()"]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard let port = Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw LocalHTTPServer.ServerError(message: "could not find a free port")
    }
    return port
}

/// The root of this repository, from this file's path (Tests/DatasetsTests/Support.swift).
let repositoryRoot: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The shared copy of the real MNIST files, next to the repository.
let realMNISTDirectory: String = URL(fileURLWithPath: repositoryRoot + "/../shared/data/mnist").standardizedFileURL.path

/// Whether the real MNIST files are available on this machine.
let realMNISTAvailable: Bool = FileManager.default.fileExists(atPath: realMNISTDirectory + "/SHA256SUMS")
