import Foundation
import Storage

/// Runs `scripts/torch_reference.py` (same architectures, data preloaded, batch 256, Adam 1e-3) so
/// PyTorch and this toolkit are timed in one run on the same machine.
///
/// PyTorch is timed in its best configuration: the script runs twice, once with glibc's default malloc and once
/// with the tuning that stops glibc from returning freed memory to the OS on every batch
/// (`MALLOC_MMAP_THRESHOLD_` 32 MiB, `MALLOC_TRIM_THRESHOLD_` 1 GiB: what this toolkit does in-process, see
/// `MemoryTuning`), and the faster of the two is kept for each run and thread count.
public enum TorchComparison {
    public struct Timing: Codable, Sendable {
        public var run: String
        public var threads: Int
        public var seconds_per_epoch: Double
        public var torch: String
        /// Whether the kept time is the one with the malloc tuning (nil: not recorded).
        public var malloc_tuned: Bool?
    }

    /// The environment of the second, tuned-malloc run.
    static let tunedMalloc = ["MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"]

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
        let arguments = ["python3", root + "/scripts/torch_reference.py", "--data", dataDirectory,
                         "--runs", supported.joined(separator: ","), "--threads", threads.map(String.init).joined(separator: ",")]
        var best: [Timing] = []
        for tuned in [false, true] {
            let result = run(arguments, extraEnvironment: tuned ? tunedMalloc : [:])
            guard result.status == 0 else { log("--compare-torch: the script failed: \(result.error)"); return nil }
            for line in result.output.split(separator: "\n") {
                guard var timing = try? JSONDecoder().decode(Timing.self, from: Data(line.utf8)) else { continue }
                timing.malloc_tuned = tuned
                if let i = best.firstIndex(where: { $0.run == timing.run && $0.threads == timing.threads }) {
                    if timing.seconds_per_epoch < best[i].seconds_per_epoch { best[i] = timing }
                } else {
                    best.append(timing)
                }
            }
        }
        return best
    }

    static func run(_ arguments: [String], extraEnvironment: [String: String] = [:])
        -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(extraEnvironment) { _, tuned in tuned }
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
