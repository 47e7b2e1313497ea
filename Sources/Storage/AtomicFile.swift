import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Errors from reading and writing project files. Each message names the file and what to do.
public enum FileError: Error, CustomStringConvertible, Equatable {
    case cannotCreate(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case cannotRead(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotCreate(path, reason):
            return "cannot create \(path): \(reason) (check that the folder exists and is writable)"
        case let .writeFailed(path, reason):
            return "could not write \(path): \(reason) (is the disk full?); the previous file, if any, is untouched"
        case let .cannotRead(path, reason):
            return "cannot read \(path): \(reason)"
        }
    }
}

/// Crash-safe file replacement: write to a temporary file in the same folder, fsync it, rename it over
/// the final name, fsync the folder. A crash at any moment leaves either the old file or the new one
/// under `path`, never a truncated one.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        try data.withUnsafeBytes { try write(bytes: $0, to: path) }
    }

    public static func write(_ string: String, to path: String) throws {
        try write(Data(string.utf8), to: path)
    }

    public static func write(bytes: UnsafeRawBufferPointer, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw FileError.cannotCreate(path: path, reason: String(cString: strerror(errno))) }
        var written = 0
        while written < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd); unlink(temporary)
                throw FileError.writeFailed(path: path, reason: reason)
            }
            written += n
        }
        if fsync(fd) != 0 {
            let reason = String(cString: strerror(errno))
            close(fd); unlink(temporary)
            throw FileError.writeFailed(path: path, reason: reason)
        }
        // Some file systems (NFS, quotas) report a failed write-back only here.
        if close(fd) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError.writeFailed(path: path, reason: reason)
        }
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError.writeFailed(path: path, reason: reason)
        }
        let folderFD = open(folder.isEmpty ? "." : folder, O_RDONLY)
        if folderFD >= 0 { fsync(folderFD); close(folderFD) }
    }

    /// Deletes the temporary files that writers of `path` killed mid-write (SIGKILL, power loss) left behind:
    /// `.<name>.tmp-<pid>` in the same folder whose process no longer exists. A live process's file is
    /// kept (it may still be writing). Returns the names removed. Never throws: this is housekeeping.
    @discardableResult
    public static func removeStaleTemporaries(for path: String) -> [String] {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let prefix = "." + url.lastPathComponent + ".tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            guard let pid = pid_t(name.dropFirst(prefix.count)), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH, unlink(folder + "/" + name) == 0 { removed.append(name) }
        }
        return removed
    }
}
