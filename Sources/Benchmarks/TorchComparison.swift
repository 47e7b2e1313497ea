import Foundation
import Storage

/// Runs `scripts/torch_reference.py` (same architectures, data preloaded, batch 256, Adam 1e-3) so
/// PyTorch and this toolkit are timed in one run on the same machine.
public enum TorchComparison {
    public struct Timing: Codable, Sendable {
        public var run: String
        public var threads: Int
        public var seconds_per_epoch: Double
        public var torch: String
    }

    /// Runs the script if `python3 -c "import torch"` works; returns nil (with a reason) otherwise.
    public static func measure(runs: [String], threads: [Int], dataDirectory: String,
                               log: (String) -> Void) -> [Timing]? {
        let supported = runs.filter { ["vae_std_z20", "vae_conv"].contains($0) }
        guard !supported.isEmpty else { log("--compare-torch: the PyTorch script covers vae_std_z20 and vae_conv only"); return nil }
        guard let root = ProjectFolder.root() else { log("--compare-torch: run from inside the repo"); return nil }
        guard run(["python3", "-c", "import torch"]).status == 0 else {
            log("--compare-torch: torch is not importable (pip install torch), skipped")
            return nil
        }
        let result = run(["python3", root + "/scripts/torch_reference.py", "--data", dataDirectory,
                          "--runs", supported.joined(separator: ","), "--threads", threads.map(String.init).joined(separator: ",")])
        guard result.status == 0 else { log("--compare-torch: the script failed: \(result.error)"); return nil }
        return result.output.split(separator: "\n").compactMap { try? JSONDecoder().decode(Timing.self, from: Data($0.utf8)) }
    }

    private static func run(_ arguments: [String]) -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { return (-1, "", "\(error)") }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
    }
}
