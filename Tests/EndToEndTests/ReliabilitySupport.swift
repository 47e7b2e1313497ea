import Foundation
import Storage
#if canImport(Glibc)
import Glibc
#endif

/// Running programs for the reliability tests: any executable (a shell wrapper, a script), with a time limit,
/// stdout and stderr captured without the risk of a full pipe blocking the child.
struct RunOutcome {
    let status: Int32
    /// False when the child died of a signal (a crash, or the time limit).
    let exitedNormally: Bool
    let stdout: String
    let stderr: String
    let timedOut: Bool

    /// The lines of stderr that report the failure ("Error: ..." as ArgumentParser prints it).
    var errorLines: [Substring] { stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") } }

    /// Signs of a crash instead of a handled error.
    var crashMarkers: [String] {
        ["Fatal error", "Stack dump", "Swift runtime failure", "Program crashed", "Backtrac", "Precondition failed"]
            .filter { stderr.contains($0) || stdout.contains($0) }
    }
}

enum Programs {
    /// The repository root (this file is Tests/EndToEndTests/ReliabilitySupport.swift).
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Runs `executable` with `arguments`; kills it (and its process group) with SIGKILL after `timeout` seconds.
    /// SIGKILL, not terminate(): children started from Swift Testing inherit a mask that blocks SIGTERM.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    timeout: Double = 120) throws -> RunOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["VAE_NO_REEXEC"] = "1"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let folder = NSTemporaryDirectory() + "vae-run-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        _ = FileManager.default.createFile(atPath: folder + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: folder + "/err", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/err"))
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                kill(-process.processIdentifier, SIGKILL)
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(20_000)
        }
        process.waitUntilExit()
        try out.close(); try err.close()
        let stdout = (try? String(contentsOfFile: folder + "/out", encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: folder + "/err", encoding: .utf8)) ?? ""
        return RunOutcome(status: process.terminationStatus, exitedNormally: process.terminationReason == .exit,
                          stdout: stdout, stderr: stderr, timedOut: timedOut)
    }

    /// Runs a built product (`vae-train`, `vae-eval`).
    static func product(_ name: String, _ arguments: [String], environment: [String: String] = [:],
                        timeout: Double = 120) throws -> RunOutcome {
        try run(Executables.path(name), arguments, environment: environment, timeout: timeout)
    }

    /// Runs a built product under `/bin/sh` with a file-size limit of `blocks` KiB (`ulimit -f`) and SIGXFSZ
    /// ignored, so that writes past the limit fail with EFBIG the way a full disk fails them with ENOSPC.
    static func productWithFileSizeLimit(_ name: String, blocks: Int, _ arguments: [String]) throws -> RunOutcome {
        try run("/bin/sh", ["-c", "trap '' XFSZ; ulimit -f \(blocks); exec \"$0\" \"$@\"", Executables.path(name)] + arguments)
    }
}

/// Helpers for making damaged inputs.
enum Damage {
    /// Rewrites the checkpoint at `path` with `change` applied to its metadata, re-sealing both digests so that
    /// only the changed content (not a checksum) can be the reason it is refused.
    static func rewriteCheckpoint(_ path: String, _ change: (inout [String: String]) -> Void) throws {
        var archive = try SafeTensorsArchive(contentsOf: path)
        change(&archive.metadata)
        archive.metadata["tensor_sha256"] = archive.tensorDataDigest()
        archive.metadata[SafeTensorsArchive.headerDigestKey] = archive.headerDigest()
        try archive.write(to: path)
    }

    /// An IDX file's bytes.
    static func idx(_ dimensions: [Int], _ payload: [UInt8], typeCode: UInt8 = 0x08, magic: [UInt8] = [0, 0]) -> [UInt8] {
        var bytes = magic + [typeCode, UInt8(dimensions.count)]
        for d in dimensions { bytes += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
        return bytes + payload
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
