import ArgumentParser
import Datasets
import Evaluation
import Foundation
import LinearAlgebra

BLASRuntime.selectFastKernels()

struct VAEEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae-eval",
        abstract: "Evaluate any checkpoint written by vae-train: test MSE, negative ELBO, sample grid.",
        subcommands: [Evaluate.self],
        defaultSubcommand: Evaluate.self)
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate one run (the default command).")

    @Argument(help: "A run folder (out/runs/<run>) or its checkpoint.safetensors.") var runPath: String
    @Option(help: "MNIST folder (default: $MNIST_DIR, else data/mnist in the repo).") var data: String?
    @Option(help: "Seed of the evaluation's random draws.") var seed: UInt64 = 0
    @Option(help: "Pixel upscaling of the sample grid.") var scale: Int = 1
    @Option(help: "Threads for BLAS.") var threads: Int = 2

    func validate() throws {
        guard scale >= 1 && scale <= 16 else { throw ValidationError("--scale must be in 1...16, got \(scale)") }
        guard threads >= 1 else { throw ValidationError("--threads must be >= 1, got \(threads)") }
    }

    func run() throws {
        BLASRuntime.threadCount = threads
        let directory = MNIST.resolveDataDirectory(explicit: data, currentDirectory: FileManager.default.currentDirectoryPath)
        let test = try MNIST.load(split: .test, from: directory)
        let folder = RunFolder(runOrCheckpoint: runPath)
        let results = try RunEvaluation.evaluate(folder, testSet: test, seed: seed, scale: scale)
        let elbo = results.reconstruction.negativeELBO.map { String(format: "%.2f", $0) } ?? "n/a"
        print("run            test MSE   -ELBO (nats)  params    train s")
        print(String(format: "%-14@ %.5f   %-13@ %-9d %.1f", results.run as NSString, results.reconstruction.meanSquaredError,
                     elbo as NSString, results.parameterCount, results.trainingSeconds))
        print("results: \(folder.results)\nsamples: \(folder.samples)")
    }
}

VAEEval.main()
