import Foundation
import TestSupport

/// A new, empty folder under the system's temporary folder, removed with everything in it by `remove()` or when
/// the last reference goes (`deinit`). Tests hold one with a `defer { folder.remove() }`.
public final class TemporaryFolder: @unchecked Sendable {
    // Sendable: `path` never changes; removing twice is harmless.
    public let path: String

    /// Creates `<tmp>/<prefix>-<UUID>`.
    public init(prefix: String) throws {
        path = NSTemporaryDirectory() + prefix + "-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Deletes the folder and its contents.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    deinit { remove() }

    /// A folder shared by a test process's tests (e.g. files a reference script wrote once), removed when the
    /// process exits.
    public static func forProcess(prefix: String) throws -> String {
        let folder = try TemporaryFolder(prefix: prefix)
        ProcessFolders.keep(folder)
        return folder.path
    }
}

/// The process-wide folders of `TemporaryFolder.forProcess`, removed at exit.
private enum ProcessFolders {
    nonisolated(unsafe) static var folders: [TemporaryFolder] = []
    static let lock = NSLock()
    nonisolated(unsafe) static var registered = false

    static func keep(_ folder: TemporaryFolder) {
        lock.lock()
        defer { lock.unlock() }
        folders.append(folder)
        if !registered {
            registered = true
            atexit {
                ProcessFolders.lock.lock()
                for folder in ProcessFolders.folders { folder.remove() }
                ProcessFolders.lock.unlock()
            }
        }
    }
}

/// Runs `body` with the path of a fresh `TemporaryFolder`, removed when `body` returns or throws.
@discardableResult
public func withTemporaryFolder<Result>(prefix: String = "vae-tests", _ body: (String) throws -> Result) throws -> Result {
    let folder = try TemporaryFolder(prefix: prefix)
    defer { folder.remove() }
    return try body(folder.path)
}
