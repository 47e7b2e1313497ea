import Autodiff
import Datasets
import Foundation
import LinearAlgebra
import Models
import Training
#if canImport(Glibc)
import Glibc
#endif

/// Timing of one training epoch of one run.
public struct EpochTiming: Codable, Sendable {
    public var run: String
    public var threads: Int
    public var seconds: Double
    public var imagesPerSecond: Double
    /// Matrix-product work done by BLAS in the epoch, and its rate.
    public var gigaflops: Double
    public var gigaflopsPerSecond: Double
}

/// Measurements for `vae-bench`: sgemm peak, training epochs, evaluation.
public enum Benchmark {
    /// Best-of-`repeats` sgemm rate on square n x n matrices, in GFLOP/s.
    public static func sgemmPeak(threads: Int, n: Int = 2048, repeats: Int = 5) -> Double {
        BLASRuntime.threadCount = threads
        var generator = SeededGenerator(seed: 1)
        let a = generator.normals(n * n), b = generator.normals(n * n)
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            BLAS.gemm(.none, .none, m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: &c, ldc: n)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
    }

    /// Trains `run` for one epoch on `data` (writing its checkpoint into a temporary folder, as a real
    /// run does) and reports time and BLAS work.
    public static func trainingEpoch(_ run: Study.Run, data: MNISTSplit, threads: Int) throws -> EpochTiming {
        var settings = run.training
        settings.epochs = 1
        settings.threads = threads
        let trainer = try Trainer(runName: run.name, configuration: run.model, settings: settings, data: data, dataChecksum: "bench")
        let folder = NSTemporaryDirectory() + "vae-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let flopsBefore = BLAS.floatingPointOperations.load(ordering: .relaxed)
        let start = DispatchTime.now().uptimeNanoseconds
        try trainer.run(checkpointPath: folder + "/checkpoint.safetensors")
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let gigaflops = Double(BLAS.floatingPointOperations.load(ordering: .relaxed) - flopsBefore) / 1e9
        return EpochTiming(run: run.name, threads: threads, seconds: seconds, imagesPerSecond: Double(data.count) / seconds,
                           gigaflops: gigaflops, gigaflopsPerSecond: gigaflops / seconds)
    }

    /// Peak resident set size of this process so far, in MiB.
    public static var peakResidentMiB: Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
