import Datasets
import Evaluation
import Foundation
import LinearAlgebra
import Storage
import Training

/// All figures of one `vae-bench` run, and their markdown rendering for notebooks-md/performance.md.
public struct BenchmarkReport {
    public var coreName: String
    public var sgemmPeak: [(threads: Int, gflops: Double)]
    public var epochs: [EpochTiming]
    public var peakResidentMiB: Double
    /// PyTorch's epoch times on the same machine, when measured.
    public var torch: [TorchComparison.Timing] = []
    /// The full evaluation of one run, per thread count, when measured.
    public var evaluations: [EvaluationTiming] = []

    public static func measure(runs: [Study.Run], data: MNISTSplit, threadCounts: [Int],
                               log: (String) -> Void) throws -> BenchmarkReport {
        var peaks: [(Int, Double)] = []
        for t in threadCounts {
            let g = Benchmark.sgemmPeak(threads: t)
            log(String(format: "sgemm 2048^3, %d thread(s): %.0f GFLOP/s", t, g))
            peaks.append((t, g))
        }
        var epochs: [EpochTiming] = []
        for run in runs {
            for t in threadCounts {
                let timing = try Benchmark.trainingEpoch(run, data: data, threads: t)
                log(String(format: "%@ %d thread(s): %.2f s/epoch, %.0f img/s, %.1f GFLOP/s in BLAS",
                           run.name, t, timing.seconds, timing.imagesPerSecond, timing.gigaflopsPerSecond))
                epochs.append(timing)
            }
        }
        return BenchmarkReport(coreName: BLASRuntime.coreName, sgemmPeak: peaks, epochs: epochs,
                               peakResidentMiB: Benchmark.peakResidentMiB)
    }

    /// Times the full evaluation of `run` (after one untimed training epoch) on each of `threadCounts`.
    public mutating func measureEvaluation(of run: Study.Run, trainingData: MNISTSplit, dataDirectory: String,
                                           threadCounts: [Int], generation: GenerationSettings = GenerationSettings(),
                                           log: (String) -> Void) throws {
        for t in threadCounts {
            let timing = try Benchmark.evaluation(run, trainingData: trainingData, dataDirectory: dataDirectory, threads: t,
                                                  generation: generation)
            log(String(format: "evaluation of %@, %d thread(s): %.2f s (test features %.2f s), test MSE %.5f, FID %.2f",
                       run.name, t, timing.seconds, timing.referenceSeconds, timing.meanSquaredError, timing.fid))
            evaluations.append(timing)
        }
        peakResidentMiB = Benchmark.peakResidentMiB
    }

    public var markdown: String {
        var md = "| run | threads | s/epoch | images/s | BLAS GFLOP/epoch | BLAS GFLOP/s | % of sgemm peak |\n"
        md += "|---|---:|---:|---:|---:|---:|---:|\n"
        for e in epochs {
            let peak = sgemmPeak.first { $0.threads == e.threads }?.gflops ?? .nan
            md += String(format: "| %@ | %d | %.2f | %.0f | %.2f | %.1f | %.0f%% |\n", e.run, e.threads, e.seconds,
                         e.imagesPerSecond, e.gigaflops, e.gigaflopsPerSecond, 100 * e.gigaflopsPerSecond / peak)
        }
        if !torch.isEmpty {
            md += "\n| run | threads | PyTorch s/epoch | ours s/epoch | ours / PyTorch |\n|---|---:|---:|---:|---:|\n"
            for t in torch {
                guard let ours = epochs.first(where: { $0.run == t.run && $0.threads == t.threads }) else { continue }
                md += String(format: "| %@ | %d | %.2f | %.2f | %.2fx |\n", t.run, t.threads, t.seconds_per_epoch,
                             ours.seconds, ours.seconds / t.seconds_per_epoch)
            }
            md += "\nPyTorch \(torch[0].torch), same machine, same run, data preloaded (`scripts/torch_reference.py`), "
            md += "best of glibc's default malloc and the tuned one (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`; "
            md += "tuned was faster for: \(torch.filter { $0.malloc_tuned == true }.map { "\($0.run) \($0.threads)t" }.joined(separator: ", ")))"
            md += ".\n"
        }
        if !evaluations.isEmpty {
            md += "\n| evaluation of | threads | test images | samples | test features s | evaluation s | test MSE | FID |\n"
            md += "|---|---:|---:|---:|---:|---:|---:|---:|\n"
            for e in evaluations {
                md += String(format: "| %@ (1 epoch) | %d | %d | %d x %d | %.2f | %.2f | %.5f | %.2f |\n", e.run, e.threads,
                             e.testImages, e.draws, e.samples, e.referenceSeconds, e.seconds, e.meanSquaredError, e.fid)
            }
            md += "\nEvaluation as `vae-eval RUN` does it: test MSE and -ELBO, then FID, KID and precision/recall of the prior "
            md += "samples against the test set (shipped LeNet features); the test features are computed once and cached "
            md += "for every later evaluation.\n"
        }
        md += "\nsgemm peak (2048 x 2048 x 2048, OpenBLAS kernels `\(coreName)`): "
        md += sgemmPeak.map { String(format: "%.0f GFLOP/s on %d thread(s)", $0.gflops, $0.threads) }.joined(separator: ", ")
        md += String(format: ".\nPeak resident memory of the benchmark process: %.0f MiB.\n", peakResidentMiB)
        return md
    }

    public func write(to path: String) throws { try AtomicFile.write(markdown, to: path) }
}
