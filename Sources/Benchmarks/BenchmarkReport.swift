import Datasets
import Evaluation
import Foundation
import LinearAlgebra
import Models
import Storage
import Training

/// All figures of one `vae-bench` run, and their markdown rendering for notebooks-md/performance-figures.md.
public struct BenchmarkReport {
    public var coreName: String
    public var sgemmPeak: [(threads: Int, gflops: Double)]
    public var epochs: [EpochTiming]
    public var peakResidentMiB: Double
    /// PyTorch's epoch times on the same machine, when measured.
    public var torch: [TorchComparison.Timing] = []
    /// The full evaluation of one run, per thread count, when measured.
    public var evaluations: [EvaluationTiming] = []
    /// Inception-v3 features (pytorch-fid's network), per thread count, when measured.
    public var inception: [InceptionTiming] = []

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

    /// Times Inception-v3's features of the first `count` of `images` on each of `threadCounts`, with the FMA limit
    /// of `scripts/fma-peak` and, if `compareTorch`, pytorch-fid's own model in the same run.
    public mutating func measureInception(images: [Float], count: Int, threadCounts: [Int], compareTorch: Bool,
                                          log: (String) -> Void) throws {
        let limits = Benchmark.fmaLimit(threads: threadCounts, log: log) ?? [:]
        let torch = compareTorch ? TorchComparison.measureInception(threads: threadCounts, images: count, log: log) ?? [:] : [:]
        for t in threadCounts {
            var timing = try Benchmark.inception(images: images, count: count, threads: t)
            timing.fmaLimit = limits[t]
            timing.torchImagesPerSecond = torch[t]
            log(String(format: "Inception-v3 features, %d thread(s): %.2f images/s, %.1f GFLOP/s (%@ of the FMA limit)%@", t,
                       timing.imagesPerSecond, timing.gigaflopsPerSecond,
                       timing.fractionOfLimit.map { String(format: "%.0f%%", 100 * $0) } ?? "?",
                       timing.torchImagesPerSecond.map { String(format: "; pytorch-fid %.2f images/s", $0) } ?? ""))
            inception.append(timing)
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
        if !inception.isEmpty {
            md += "\n| Inception-v3 features | threads | images | s | images/s | GFLOP/s | FMA limit GFLOP/s | % of limit | pytorch-fid images/s | ours / pytorch-fid |\n"
            md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            for e in inception {
                let limit = e.fmaLimit.map { String(format: "%.1f", $0) } ?? "-"
                let fraction = e.fractionOfLimit.map { String(format: "%.0f%%", 100 * $0) } ?? "-"
                let torch = e.torchImagesPerSecond.map { String(format: "%.2f", $0) } ?? "-"
                let ratio = e.torchImagesPerSecond.map { String(format: "%.2fx", e.imagesPerSecond / $0) } ?? "-"
                md += String(format: "| random weights | %d | %d | %.1f | %.2f | %.1f | %@ | %@ | %@ | %@ |\n", e.threads, e.images,
                             e.seconds, e.imagesPerSecond, e.gigaflopsPerSecond, limit, fraction, torch, ratio)
            }
            md += String(format: "\n%.2f GFLOP per image (2 x the %.3f G multiply-adds of its 94 convolutions); FMA limit from ",
                         inception[0].gigaflopsPerImage, Double(InceptionV3.multiplyAddsPerImage) / 1e9)
            md += "`scripts/fma-peak`; pytorch-fid 0.3.0's InceptionV3 timed by `scripts/inception_reference.py time` (batch 50).\n"
        }
        md += "\nsgemm peak (2048 x 2048 x 2048, OpenBLAS kernels `\(coreName)`): "
        md += sgemmPeak.map { String(format: "%.0f GFLOP/s on %d thread(s)", $0.gflops, $0.threads) }.joined(separator: ", ")
        md += String(format: ".\nPeak resident memory of the benchmark process: %.0f MiB.\n", peakResidentMiB)
        return md
    }

    public func write(to path: String) throws { try AtomicFile.write(markdown, to: path) }
}
