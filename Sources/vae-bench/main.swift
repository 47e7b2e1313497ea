import ArgumentParser
import Autodiff
import Benchmarks
import Datasets
import Foundation
import LinearAlgebra
import Models
import Storage
import Training

BLASRuntime.selectFastKernels()
MemoryTuning.retainFreedMemory()

struct VAEBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae-bench",
        abstract: "Time sgemm, a training epoch of each run and the full evaluation of one run on real MNIST (use a release build).",
        version: "vae-toolkit \(ToolkitAssets.version) (checkpoint format \(Checkpoint.formatVersion))")

    @Option(help: "MNIST folder (default: $MNIST_DIR, else data/mnist in the repo).") var data: String?
    @Option(help: "Comma-separated runs to time (default: every run of the study), or 'none'.") var runs: String?
    @Option(help: "Study file (default: the shipped one, installed beside the command or in the repo's fixtures/).")
    var study: String?
    @Option(parsing: .unconditional, help: "Comma-separated thread counts.") var threads: String = "1,2"
    @Option(help: "Write the figures as markdown to this file.") var notebook: String?
    @Flag(help: "Also time scripts/torch_reference.py (needs torch) and print the ratio.") var compareTorch = false
    @Option(help: "Run whose full evaluation is timed after one training epoch (test MSE, FID/KID/precision-recall on 3 x 10,000 prior samples), or 'none'.")
    var evaluate: String = "vae_std_z20"
    @Option(help: "Time Inception-v3's FID features (pytorch-fid's network, random weights) on this many training images (0: skip); with --compare-torch also pytorch-fid's own model.")
    var inception: Int = 0

    func validate() throws {
        guard threadCounts.allSatisfy({ $0 >= 1 }), !threadCounts.isEmpty else {
            throw ValidationError("--threads must list positive integers, got '\(threads)'")
        }
        guard inception >= 0 else { throw ValidationError("--inception must be >= 0, got \(inception)") }
    }

    var threadCounts: [Int] { threads.split(separator: ",").compactMap { Int($0) } }

    func run() throws {
        let study = try Study.load(from: self.study ?? Study.defaultPath())
        let selected = runs == "none" ? [] : try study.runs(only: runs?.split(separator: ",").map(String.init))
        let evaluated = evaluate == "none" ? nil : try study.runs(only: [evaluate])[0]
        let directory = MNIST.resolveDataDirectory(explicit: data, currentDirectory: FileManager.default.currentDirectoryPath)
        let train = try MNIST.load(split: .train, from: directory)
        if evaluated != nil { try Benchmark.checkEvaluationInputs(dataDirectory: directory) }
        let log = StandardError.line
        var report = try BenchmarkReport.measure(runs: selected, data: train, threadCounts: threadCounts, log: log)
        if let evaluated {
            try report.measureEvaluation(of: evaluated, trainingData: train, dataDirectory: directory, threadCounts: threadCounts, log: log)
        }
        if inception > 0 {
            try report.measureInception(images: train.images, count: min(inception, train.count), threadCounts: threadCounts,
                                        compareTorch: compareTorch, log: log)
        }
        if compareTorch && !selected.isEmpty {
            report.torch = TorchComparison.measure(runs: selected.map(\.name), threads: threadCounts,
                                                   dataDirectory: directory, log: log) ?? []
        }
        print(report.markdown)
        if let notebook { try report.write(to: notebook) }
    }
}

VAEBench.main()
