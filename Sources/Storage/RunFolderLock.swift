import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why a run folder's lock could not be taken; one line each.
public enum RunFolderLockError: Error, CustomStringConvertible, Equatable {
    /// `--no-wait` and another process holds the lock.
    case held(folder: String, holder: String)
    case cannotLock(path: String, reason: String)

    public var description: String {
        switch self {
        case let .held(folder, holder):
            return "\(folder) is in use by \(holder); wait for it to finish, or run without --no-wait to wait"
        case let .cannotLock(path, reason):
            return "cannot lock \(path): \(reason)"
        }
    }
}

/// One writer per run folder: an exclusive `flock(2)` on `<folder>/.run.lock`, held from `init` until `release()` or
/// deinit, taken by every command that writes into a run folder (training, resuming, the code prior, evaluation,
/// the report, a sampler cache). The file holds the holder's PID and command line, so that a second process can
/// say who it waits for (or, with `wait: false`, fail at once naming them).
///
/// The kernel drops the lock when the holder exits, however it exits (a SIGKILL leaves no stale lock). Within one
/// process the lock nests: taking it again for a folder this process already holds (a report evaluating a run)
/// returns at once and counts; the file is unlocked when the last holder releases it. Nesting is per process, not
/// per thread: threads of one process (`vae-train sweep --jobs`) must lock different folders. The lock file is never
/// deleted while others may wait on it, except by `removeFolder(ifOnly:)`, which holders re-check against (a
/// waiter that wakes on a deleted file takes the lock again on the current one).
public final class RunFolderLock {
    public static let fileName = ".run.lock"

    public let folder: String
    public let path: String
    private var released = false
    private let key: String

    private struct Held { var fd: Int32; var count: Int }
    private static let held = Mutex<[String: Held]>([:])

    /// Takes the lock of `folder` (which must exist). With `wait` a held lock is waited for, after one
    /// `notice` line naming the holder; without it the call throws `RunFolderLockError.held` at once.
    /// `command` is recorded for others to see (default: this process's command line).
    public init(folder: String, wait: Bool, command: String = RunFolderLock.currentCommand,
                notice: (String) -> Void = { _ in }) throws {
        self.folder = folder
        path = folder + "/" + Self.fileName
        key = URL(fileURLWithPath: folder).standardizedFileURL.resolvingSymlinksInPath().path
        let nested = Self.held.withLock { table -> Bool in
            guard var entry = table[key] else { return false }
            entry.count += 1
            table[key] = entry
            return true
        }
        if nested { return }
        var noticed = false
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw RunFolderLockError.cannotLock(path: path, reason: FileError.reason(errno: errno))
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                guard code == EWOULDBLOCK else {
                    close(fd)
                    throw RunFolderLockError.cannotLock(path: path, reason: FileError.reason(errno: code))
                }
                let holder = Self.describeHolder(fd: fd)
                guard wait else { close(fd); throw RunFolderLockError.held(folder: folder, holder: holder) }
                if !noticed {
                    notice("waiting for \(folder): in use by \(holder)")
                    noticed = true
                }
                while flock(fd, LOCK_EX) != 0 {
                    guard errno == EINTR else {
                        let reason = FileError.reason(errno: errno)
                        close(fd)
                        throw RunFolderLockError.cannotLock(path: path, reason: reason)
                    }
                }
            }
            // The file may have been removed (with its folder) while we waited: lock the current one then.
            var opened = stat(), current = stat()
            guard fstat(fd, &opened) == 0, stat(path, &current) == 0,
                  opened.st_ino == current.st_ino, opened.st_dev == current.st_dev else {
                close(fd)
                guard FileManager.default.fileExists(atPath: folder) else {
                    throw RunFolderLockError.cannotLock(path: path, reason: "the folder was removed while waiting for it")
                }
                continue
            }
            let text = "pid \(getpid())\ncommand \(command)\n"
            ftruncate(fd, 0)
            _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
            Self.held.withLock { $0[key] = Held(fd: fd, count: 1) }
            return
        }
    }

    /// Gives the lock up (idempotent; also done by deinit).
    public func release() {
        guard !released else { return }
        released = true
        Self.held.withLock { table in
            guard var entry = table[key] else { return }
            entry.count -= 1
            if entry.count == 0 {
                ftruncate(entry.fd, 0)
                close(entry.fd)  // closing the only descriptor drops the flock
                table[key] = nil
            } else {
                table[key] = entry
            }
        }
    }

    deinit { release() }

    /// Removes the lock file and then the folder if nothing but `names` (and the lock file) is left in it;
    /// releases the lock. Used when a job leaves nothing worth keeping (a training that failed before its first
    /// checkpoint). Returns whether the folder is gone.
    @discardableResult
    public func removeFolder(ifOnly names: Set<String> = []) -> Bool {
        let fm = FileManager.default
        let left = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter { $0 != Self.fileName }
        guard left.allSatisfy(names.contains), Self.held.withLock({ $0[key]?.count }) == 1 else { release(); return false }
        for name in left { try? fm.removeItem(atPath: folder + "/" + name) }
        unlink(path)  // still locked: a waiter wakes on the unlinked file, sees that, and re-checks
        release()
        return rmdir(folder) == 0
    }

    /// `vae-eval RUN --force` and the like: the program name and its arguments.
    public static var currentCommand: String {
        ([URL(fileURLWithPath: CommandLine.arguments.first ?? "?").lastPathComponent] + CommandLine.arguments.dropFirst())
            .joined(separator: " ")
    }

    /// "PID 123 (vae-eval out/runs/x)" from the lock file, or "another process" while it is still being written.
    static func describeHolder(fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return "another process" }
        let lines = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n")
        let pid = lines.first { $0.hasPrefix("pid ") }.map { String($0.dropFirst(4)) }
        let command = lines.first { $0.hasPrefix("command ") }.map { String($0.dropFirst(8)) }
        guard let pid else { return "another process" }
        return "PID \(pid)" + (command.map { " (\($0))" } ?? "")
    }
}
