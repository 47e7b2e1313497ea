import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Storage

/// Fetches files (the four MNIST files by default) from a list of mirrors and verifies each one's SHA-256
/// before it is saved.
///
/// An expected checksum is the full hex digest, or a prefix of at least 8 hex digits (torch-hub style, as in
/// `pt_inception-2015-12-05-6726825d.pth`). Mirrors are tried in order for each file; the first one that delivers bytes with the expected
/// checksum wins. A file is written atomically (temporary file, fsync, rename), so a partial or wrong
/// download never appears under the final name. Files already present with the right checksum are
/// not fetched again.
public struct MNISTDownloader: Sendable {
    /// The public mirrors tried when none is given.
    public static let defaultMirrors: [String] = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]

    /// The SHA-256 of each published MNIST file.
    public static let knownChecksums: [String: String] = [
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ]

    /// Base URLs tried in order; a file's URL is the base followed by its name. `http`, `https` and
    /// `file` URLs and plain folder paths are accepted.
    public var mirrors: [String]
    /// The files to fetch, by name, each with the lowercase hex SHA-256 it must have (or a prefix of it of at
    /// least 8 digits).
    public var expectedChecksums: [String: String]
    /// Seconds a request may wait for data before it is abandoned and the next mirror tried.
    public var requestTimeout: TimeInterval

    /// Creates a downloader.
    ///
    /// - Parameters:
    ///   - mirrors: Base URLs to try in order (an explicit `--mirror URL` replaces the defaults).
    ///   - expectedChecksums: The files to fetch and their SHA-256; the four MNIST files by default.
    ///   - requestTimeout: Seconds without data after which a request fails (60 by default); a whole
    ///     file may take at most 20 times as long.
    public init(mirrors: [String] = MNISTDownloader.defaultMirrors,
                expectedChecksums: [String: String] = MNISTDownloader.knownChecksums,
                requestTimeout: TimeInterval = 60) {
        self.mirrors = mirrors
        self.expectedChecksums = expectedChecksums
        self.requestTimeout = requestTimeout
    }

    /// Makes sure every file of `expectedChecksums` is in `directory` with the right checksum,
    /// downloading the missing or wrong ones. Creates `directory` if needed.
    ///
    /// - Parameters:
    ///   - directory: Where the files go.
    ///   - progress: Receives one line per step (skipped, fetching, verified...).
    /// - Returns: The names of the files that were downloaded, sorted (files already present are not
    ///   listed).
    /// - Throws: `DatasetError.noMirrorSucceeded` when no mirror delivers a file with the expected
    ///   checksum (nothing is written for that file), `DatasetError.cannotWrite` when the folder or a
    ///   file cannot be written.
    @discardableResult
    public func download(into directory: String, progress: (String) -> Void = { _ in }) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DatasetError.cannotWrite(path: directory, reason: FileError.reason(of: error))
        }
        var fetched: [String] = []
        for name in expectedChecksums.keys.sorted() {
            let expected = expectedChecksums[name, default: ""].lowercased()
            let destination = MNIST.join(directory, name)
            if FileManager.default.fileExists(atPath: destination) {
                let present = (try? FileBytes.read(destination)).map { SHA256.hexDigest(of: $0) }
                if let present, Self.digest(present, matches: expected) {
                    progress("\(name): already present, SHA-256 verified")
                    continue
                }
                progress("\(name): present but its SHA-256 differs, downloading it again")
            }
            var failures: [DatasetError] = []
            var saved = false
            for mirror in mirrors {
                let source = Self.url(of: name, on: mirror)
                progress("\(name): fetching \(source)")
                do {
                    let bytes = try fetch(source, file: name, mirror: mirror)
                    let digest = SHA256.hexDigest(of: bytes)
                    guard Self.digest(digest, matches: expected) else {
                        throw DatasetError.checksumMismatch(file: name, source: mirror, actual: digest, expected: expected)
                    }
                    try writeAtomically(bytes, to: destination)
                    progress("\(name): \(bytes.count) bytes, SHA-256 verified, saved to \(destination)")
                    saved = true
                    break
                } catch let error as DatasetError {
                    if case .cannotWrite = error { throw error }
                    progress(error.description)
                    failures.append(error)
                }
            }
            guard saved else { throw DatasetError.noMirrorSucceeded(file: name, failures: failures) }
            fetched.append(name)
        }
        return fetched
    }

    /// Whether the hex `digest` is `expected`, or starts with it when `expected` is a prefix of 8 or more digits.
    static func digest(_ digest: String, matches expected: String) -> Bool {
        expected.count >= 8 && digest.hasPrefix(expected)
    }

    /// `mirror` followed by `name`, with exactly one slash between them.
    static func url(of name: String, on mirror: String) -> String {
        mirror.hasSuffix("/") ? mirror + name : mirror + "/" + name
    }

    /// The bytes at `source`; local paths and `file:` URLs are read directly.
    private func fetch(_ source: String, file: String, mirror: String) throws -> [UInt8] {
        if source.hasPrefix("/") {
            return try readLocal(source, file: file, mirror: mirror)
        }
        guard let url = URL(string: source), let scheme = url.scheme?.lowercased() else {
            throw DatasetError.transferFailed(file: file, source: mirror, reason: "not a valid URL")
        }
        if scheme == "file" { return try readLocal(url.path, file: file, mirror: mirror) }
        guard scheme == "http" || scheme == "https" else {
            throw DatasetError.transferFailed(file: file, source: mirror, reason: "unsupported URL scheme \(scheme)")
        }
        return try httpGet(url, file: file, mirror: mirror)
    }

    private func readLocal(_ path: String, file: String, mirror: String) throws -> [UInt8] {
        do {
            return try FileBytes.read(path)
        } catch let DatasetError.cannotRead(_, reason) {
            throw DatasetError.transferFailed(file: file, source: mirror, reason: reason)
        }
    }

    private func httpGet(_ url: URL, file: String, mirror: String) throws -> [UInt8] {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = requestTimeout
        configuration.timeoutIntervalForResource = requestTimeout * 20
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }

        let outcome = TransferOutcome()
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: url)
        request.timeoutInterval = requestTimeout
        let task = session.dataTask(with: request) { data, response, error in
            outcome.set(data: data, response: response, error: error)
            done.signal()
        }
        task.resume()
        // The session enforces its own timeouts; this bound only guards against a lost callback.
        if done.wait(timeout: .now() + requestTimeout * 20 + 30) == .timedOut {
            task.cancel()
            throw DatasetError.transferFailed(file: file, source: mirror, reason: "timed out")
        }
        let (data, response, error) = outcome.get()
        if let error {
            throw DatasetError.transferFailed(file: file, source: mirror, reason: error.localizedDescription)
        }
        if let http = response as? HTTPURLResponse, http.statusCode != 200 {
            throw DatasetError.httpStatus(file: file, source: mirror, status: http.statusCode)
        }
        guard let data else {
            throw DatasetError.transferFailed(file: file, source: mirror, reason: "no data received")
        }
        return [UInt8](data)
    }
}

/// The result of a data task, handed from URLSession's queue to the waiting thread.
private final class TransferOutcome: @unchecked Sendable {
    // Sendable: every stored property is read and written only while holding `lock`.
    private let lock = NSLock()
    private var data: Data?
    private var response: URLResponse?
    private var error: Error?

    func set(data: Data?, response: URLResponse?, error: Error?) {
        lock.lock(); defer { lock.unlock() }
        self.data = data
        self.response = response
        self.error = error
    }

    func get() -> (Data?, URLResponse?, Error?) {
        lock.lock(); defer { lock.unlock() }
        return (data, response, error)
    }
}
