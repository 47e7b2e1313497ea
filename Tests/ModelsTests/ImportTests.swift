import Autodiff
import Datasets
import Evaluation
import Foundation
import Models
import Storage
import Testing
import TestSupport
import Training

/// The pytorch/examples VAE trained a few batches in PyTorch on a tiny IDX set, saved in both torch.save formats
/// and as safetensors, with its test MSE and decoded images of fixed codes computed in PyTorch, and the same for
/// the reference modules of scripts/torch_models.py (residual VAE, conv VAE, WAE; seeded weights): written once per
/// test process by Tests/ModelsTests/Python/pytorch_examples_vae.py through scripts/torch-python (Debian's
/// python3-torch, installed by `scripts/install-deps --torch`, which scripts/test and CI run first).
enum PyTorchVAE {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// The folder with the script's files, and the 16 test images it was given.
    static let files: Result<(folder: String, split: MNISTSplit), Failure> = {
        do {
            let folder = try TemporaryFolder.forProcess(prefix: "pytorch-vae")
            var generator = SeededGenerator(seed: 11)
            let pixels: [UInt8] = (0..<(16 * 784)).map { _ in
                let u = generator.nextUniform()
                return u < 0.75 ? 0 : UInt8(min(255, Int(u * 1000) % 256))
            }
            try IDX.write(pixels, dimensions: [16, 28, 28], to: folder + "/t10k-images-idx3-ubyte")
            let split = MNISTSplit(images: pixels.map { Float($0) / 255 }, labels: [UInt8](repeating: 0, count: 16), rows: 28, columns: 28)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: repository + "/scripts/torch-python")
            process.arguments = [repository + "/Tests/ModelsTests/Python/pytorch_examples_vae.py", folder, folder + "/t10k-images-idx3-ubyte"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                return .failure(Failure(description: "pytorch_examples_vae.py failed (run scripts/install-deps --torch): \(output)"))
            }
            return .success((folder, split))
        } catch {
            return .failure(Failure(description: "cannot run the PyTorch script: \(error)"))
        }
    }()

    static let study: Study = try! Study.load(from: repository + "/fixtures/study.json")

    static func run(_ name: String) throws -> Study.Run { try #require(try study.runs(only: [name]).first) }

    static func path(_ name: String) throws -> String { try files.get().folder + "/" + name }

    static func mse(_ stem: String) throws -> Double {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(stem + ".json")))) as? [String: Double]
        return try #require(json?["mse"])
    }

    static func floats(_ name: String) throws -> (shape: [Int], values: [Float]) {
        let array = try NPY.read(contentsOf: path(name))
        guard case let .float32(values) = array.elements else { throw Failure(description: "\(name) is not float32") }
        return (array.shape, values)
    }

    static func freshFolder() -> String { NSTemporaryDirectory() + "import-" + UUID().uuidString }
}

@Suite(.tags(.slow), .skippedWhenFast) struct ImportTests {
    /// The imported model's test MSE and decoded pixels equal PyTorch's: MSE to 1e-6 relative, pixels to 1e-5.
    func expectMatchesPyTorch(_ checkpoint: Checkpoint, _ stem: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let split = try PyTorchVAE.files.get().split
        var generator = SeededGenerator(seed: 0)
        let metrics = ReconstructionMetrics.measure(checkpoint.model, on: split, generator: &generator)
        let reference = try PyTorchVAE.mse(stem)
        #expect(abs(metrics.meanSquaredError - reference) <= 1e-6 * reference,
                "MSE \(metrics.meanSquaredError) vs PyTorch \(reference)", sourceLocation: sourceLocation)
        let codes = try PyTorchVAE.floats(stem + ".codes.npy")
        let decoded = try PyTorchVAE.floats(stem + ".decoded.npy")
        let ours = checkpoint.model.decode(Tensor(shape: codes.shape, data: codes.values)).data
        #expect(ours.count == decoded.values.count, sourceLocation: sourceLocation)
        let worst = zip(ours, decoded.values).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "largest pixel difference \(worst)", sourceLocation: sourceLocation)
    }

    @Test(arguments: ["vae_z20.zip.pt", "vae_z20.legacy.pt", "vae_z20.safetensors"])
    func thePyTorchExamplesVAEImportsAsVaeStdZ20(_ file: String) throws {
        let out = PyTorchVAE.freshFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let source = try PyTorchVAE.path(file)
        let path = try CheckpointImport.run(file: source, run: PyTorchVAE.run("vae_std_z20"), outputFolder: out)
        #expect(path == out + "/checkpoint.safetensors")
        let checkpoint = try Checkpoint.read(from: path)
        #expect(CheckpointImport.isImported(checkpoint))
        #expect(checkpoint.extraMetadata[CheckpointImport.sourceKey] == file)
        #expect(checkpoint.extraMetadata[CheckpointImport.sourceDigestKey] == SHA256.hexDigest(of: try SafeTensorsArchive.readFile(source)))
        #expect(checkpoint.training.history.isEmpty && checkpoint.training.runName == "vae_std_z20")
        #expect(checkpoint.model.configuration == (try PyTorchVAE.run("vae_std_z20")).model)
        try expectMatchesPyTorch(checkpoint, "vae_z20")
    }

    /// scripts/torch_models.py's modules for the residual VAE, the conv VAE, the WAE and the batch-norm MLP (its
    /// running estimates import as buffers; `num_batches_tracked` is not imported), with seeded random weights.
    @Test(arguments: [("res", "vae_std_z20_res"), ("conv", "vae_conv"), ("wae", "wae"), ("bn", "vae_std_z20_bn")])
    func theReferenceModulesImportOneToOne(_ stem: String, _ runName: String) throws {
        let out = PyTorchVAE.freshFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let path = try CheckpointImport.run(file: PyTorchVAE.path(stem + ".zip.pt"), run: PyTorchVAE.run(runName), outputFolder: out)
        let checkpoint = try Checkpoint.read(from: path)
        #expect(checkpoint.model.configuration == (try PyTorchVAE.run(runName)).model)
        try expectMatchesPyTorch(checkpoint, stem)
    }

    @Test func sameNamesImportAsTheZ40AndBetaRuns() throws {
        let z40 = PyTorchVAE.freshFolder(), beta = PyTorchVAE.freshFolder()
        defer { for folder in [z40, beta] { try? FileManager.default.removeItem(atPath: folder) } }
        let large = try Checkpoint.read(from: CheckpointImport.run(file: PyTorchVAE.path("vae_z40.legacy.pt"), run: PyTorchVAE.run("vae_std_z40"), outputFolder: z40))
        try expectMatchesPyTorch(large, "vae_z40")
        let betaRun = try Checkpoint.read(from: CheckpointImport.run(file: PyTorchVAE.path("vae_z20.zip.pt"), run: PyTorchVAE.run("beta_vae_4"), outputFolder: beta))
        #expect(betaRun.model.configuration.beta == 4)
        try expectMatchesPyTorch(betaRun, "vae_z20")
    }

    @Test func everyProblemIsListedAndNothingIsWritten() throws {
        let out = PyTorchVAE.freshFolder()
        do {
            try CheckpointImport.run(file: PyTorchVAE.path("broken.pt"), run: PyTorchVAE.run("vae_std_z20"), outputFolder: out)
            Issue.record("the broken state dict was imported")
        } catch let error as CheckpointImportError {
            guard case let .tensorsDoNotFit(_, run, problems) = error else { Issue.record("\(error)"); return }
            #expect(run == "vae_std_z20")
            #expect(problems.sorted() == [
                "'fc1.weight' has shape [784, 400], encoder.fc1.weight needs [400, 784]",
                "'fc21.bias' is F64, not F32 (convert it with .float() in PyTorch)",
                "missing 'decoder.fc4.bias' ([784])",
                "unexpected tensor 'fc5.weight'",
            ])
            #expect(error.description.contains("broken.pt does not fit vae_std_z20 (4 problems: "))
            #expect(error.description.hasSuffix("nothing was written (names: notebooks-md/models.md)"))
            #expect(!error.description.contains("\n"))
        }
        #expect(!FileManager.default.fileExists(atPath: out), "the output folder was created")

        // The z = 40 weights do not fit the z = 20 run: the four layers that touch z are named.
        do {
            try CheckpointImport.run(file: PyTorchVAE.path("vae_z40.zip.pt"), run: PyTorchVAE.run("vae_std_z20"), outputFolder: out)
            Issue.record("z = 40 weights were imported as z = 20")
        } catch let CheckpointImportError.tensorsDoNotFit(_, _, problems) {
            #expect(problems.count == 5, "\(problems)")   // fc21.weight/bias, fc22.weight/bias, fc3.weight
            #expect(problems.allSatisfy { $0.contains("has shape") })
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func anExistingCheckpointIsNeverReplacedAndTheSweepLeavesIt() throws {
        let root = PyTorchVAE.freshFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let run = try PyTorchVAE.run("vae_std_z20")
        let folder = root + "/runs/vae_std_z20"
        let path = try CheckpointImport.run(file: PyTorchVAE.path("vae_z20.zip.pt"), run: run, outputFolder: folder)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: CheckpointImportError.checkpointExists(path: path)) {
            try CheckpointImport.run(file: PyTorchVAE.path("vae_z20.legacy.pt"), run: run, outputFolder: folder)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        // `vae-train sweep` over the same output root would otherwise see other settings and retrain the run.
        let sweep = StudySweep(study: PyTorchVAE.study, dataDirectory: root, outputRoot: root)
        #expect(sweep.decision(for: run, dataChecksum: "any") == .skip)
    }
}
