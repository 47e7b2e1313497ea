import Autodiff
import Datasets
import Evaluation
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

/// Timing of the full evaluation of one run, as `vae-eval RUN` does it with the study's settings: test MSE and
/// -ELBO on the test set, then FID, KID and precision/recall of `draws` x `samples` prior samples against the
/// test set's features (the shipped LeNet feature network).
public struct EvaluationTiming: Codable, Sendable {
    public var run: String
    public var threads: Int
    public var testImages: Int
    public var samples: Int
    public var draws: Int
    /// The test set's feature statistics: computed once, then cached in `out/cache` for every later evaluation.
    public var referenceSeconds: Double
    /// The evaluation itself, the reference features already cached.
    public var seconds: Double
    /// Results of the evaluated checkpoint (one training epoch), to show the work was done.
    public var meanSquaredError: Double
    public var fid: Double
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
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try trainOneEpoch(run, data: data, threads: threads, checkpointPath: RunFolder(path: folder).checkpoint)
    }

    /// Trains `run` for one epoch on `trainingData` (untimed) and times the full evaluation of that checkpoint
    /// with `generation` (the study's: 3 draws of 10,000 samples) against the test set in `dataDirectory`:
    /// first the test set's reference features, then the evaluation. Everything is written to a temporary
    /// folder, removed afterwards.
    public static func evaluation(_ run: Study.Run, trainingData: MNISTSplit, dataDirectory: String, threads: Int,
                                  generation: GenerationSettings = GenerationSettings()) throws -> EvaluationTiming {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let runFolder = RunFolder(path: folder + "/runs/" + run.name)
        try FileManager.default.createDirectory(atPath: runFolder.path, withIntermediateDirectories: true)
        _ = try trainOneEpoch(run, data: trainingData, threads: threads, checkpointPath: runFolder.checkpoint)

        BLASRuntime.threadCount = threads
        let cache = folder + "/cache"
        let job = EvaluationJob(options: .init(dataDirectory: dataDirectory, cacheDirectory: cache, generation: generation))
        let referenceStart = DispatchTime.now().uptimeNanoseconds
        let reference = try job.reference(cacheDirectory: cache)
        let start = DispatchTime.now().uptimeNanoseconds
        let (results, _) = try job.evaluate(runFolder)
        let end = DispatchTime.now().uptimeNanoseconds
        return EvaluationTiming(run: run.name, threads: threads, testImages: reference.count, samples: generation.samples,
                                draws: generation.draws, referenceSeconds: Double(start - referenceStart) / 1e9,
                                seconds: Double(end - start) / 1e9,
                                meanSquaredError: results.reconstruction.meanSquaredError,
                                fid: results.generation?.fid.mean ?? .nan)
    }

    /// Throws now, before anything is timed, what `evaluation` would throw later for want of inputs: the test split
    /// in `dataDirectory` or the shipped feature network missing or unreadable.
    public static func checkEvaluationInputs(dataDirectory: String) throws {
        let job = EvaluationJob(options: .init(dataDirectory: dataDirectory, generation: GenerationSettings()))
        _ = try job.testSet()
        _ = try job.featureNetwork()
    }

    static func trainOneEpoch(_ run: Study.Run, data: MNISTSplit, threads: Int, checkpointPath: String) throws -> EpochTiming {
        var settings = run.training
        settings.epochs = 1
        settings.threads = threads
        let trainer = try Trainer(runName: run.name, configuration: run.model, settings: settings, data: data, dataChecksum: "bench")
        let flopsBefore = BLAS.floatingPointOperations.load(ordering: .relaxed)
        let start = DispatchTime.now().uptimeNanoseconds
        try trainer.run(checkpointPath: checkpointPath)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let gigaflops = Double(BLAS.floatingPointOperations.load(ordering: .relaxed) - flopsBefore) / 1e9
        return EpochTiming(run: run.name, threads: threads, seconds: seconds, imagesPerSecond: Double(data.count) / seconds,
                           gigaflops: gigaflops, gigaflopsPerSecond: gigaflops / seconds)
    }

    /// A new empty folder under the system's temporary folder.
    static func temporaryFolder() throws -> String {
        let folder = NSTemporaryDirectory() + "vae-bench-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Peak resident set size of this process so far, in MiB.
    public static var peakResidentMiB: Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
