import Autodiff
import Datasets
import Evaluation
import Foundation
import Models
import Storage
import Testing
import TestSupport
@testable import Training

/// The pytorch/examples VAE trained a few batches in PyTorch on a tiny IDX set, saved in both torch.save formats
/// and as safetensors, with its test MSE, decoded images of fixed codes and negative ELBO with fixed noise computed in
/// PyTorch, and the same for the reference modules of scripts/torch_models.py (residual VAE, batch-norm VAE, conv VAE,
/// WAE, GM-VAE, VQ-VAE; seeded weights). Torch runs at test time: the files are written once per test process by
/// Tests/ModelsTests/Python/pytorch_examples_vae.py through scripts/torch-python (Debian's python3-torch, installed by
/// `scripts/install-deps --torch`, which scripts/test and CI run first), read into memory and their folder removed;
/// a test that needs one as a file writes it into its own temporary folder.
enum PyTorchVAE {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// The script's files by name, and the 16 test images it was given.
    static let files: Result<(contents: [String: Data], split: MNISTSplit), Failure> = {
        do {
            let folder = try TemporaryFolder.forProcess(prefix: "pytorch-vae")
            defer { try? FileManager.default.removeItem(atPath: folder) }
            var generator = SeededGenerator(seed: 11)
            let pixels: [UInt8] = (0..<(16 * 784)).map { _ in
                let u = generator.nextUniform()
                return u < 0.75 ? 0 : UInt8(min(255, Int(u * 1000) % 256))
            }
            let images = folder + "/t10k-images-idx3-ubyte", output = folder + "/out"
            try IDX.write(pixels, dimensions: [16, 28, 28], to: images)
            let split = MNISTSplit(images: pixels.map { Float($0) / 255 }, labels: [UInt8](repeating: 0, count: 16), rows: 28, columns: 28)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: repository + "/scripts/torch-python")
            process.arguments = [repository + "/Tests/ModelsTests/Python/pytorch_examples_vae.py", output, images]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                return .failure(Failure(description: "pytorch_examples_vae.py failed (run scripts/install-deps --torch): \(log)"))
            }
            var contents: [String: Data] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: output) {
                contents[name] = try Data(contentsOf: URL(fileURLWithPath: output + "/" + name))
            }
            return .success((contents, split))
        } catch {
            return .failure(Failure(description: "cannot run the PyTorch script: \(error)"))
        }
    }()

    static let study: Study = try! Study.load(from: repository + "/fixtures/study.json")

    static func run(_ name: String) throws -> Study.Run { try #require(try study.runs(only: [name]).first) }

    static func contents(_ name: String) throws -> Data {
        guard let data = try files.get().contents[name] else { throw Failure(description: "the script wrote no \(name)") }
        return data
    }

    /// Writes the script's file `name` into `folder` (created if needed) and returns its path.
    static func copy(_ name: String, into folder: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + name
        try contents(name).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The figures PyTorch computed for `stem`: "mse", and "negative_elbo" for a model with an ELBO.
    static func figures(_ stem: String) throws -> [String: Double] {
        try #require(try JSONSerialization.jsonObject(with: contents(stem + ".json")) as? [String: Double])
    }

    static func mse(_ stem: String) throws -> Double { try #require(try figures(stem)["mse"]) }

    static func floats(_ name: String) throws -> (shape: [Int], values: [Float]) {
        let array = try NPY.decode([UInt8](contents(name)), source: name)
        guard case let .float32(values) = array.elements else { throw Failure(description: "\(name) is not float32") }
        return (array.shape, values)
    }

    /// A temporary folder name (not created); the caller removes it.
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
        let scratch = PyTorchVAE.freshFolder(), out = scratch + "/out"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let source = try PyTorchVAE.copy(file, into: scratch + "/sources")
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
        let checkpoint = try imported(stem + ".zip.pt", as: runName)
        #expect(checkpoint.model.configuration == (try PyTorchVAE.run(runName)).model)
        try expectMatchesPyTorch(checkpoint, stem)
    }

    /// scripts/torch_models.py's GMVAE (q(y|x), the split first q(z|x,y) layer, the mixture prior as parameters) and
    /// VQVAE (nested module paths; the EMA codebook, its statistics and the per-position prior as buffers), seeded
    /// weights, from each of the three file formats: every tensor lands where ours is, and MSE and pixels match.
    @Test(arguments: ["gm", "vq"], [".zip.pt", ".legacy.pt", ".safetensors"])
    func theMixtureAndQuantisedModulesImportOneToOne(_ stem: String, _ format: String) throws {
        let runName = stem == "gm" ? "gm_vae" : "vq_vae"
        let checkpoint = try imported(stem + format, as: runName)
        #expect(checkpoint.model.configuration == (try PyTorchVAE.run(runName)).model)
        // The buffers too: the file's values, not the toolkit's initial ones.
        let source = try StateDict.read(bytes: [UInt8](PyTorchVAE.contents(stem + format)), source: stem + format)
        let ours = Dictionary((checkpoint.model.namedParameters + checkpoint.model.namedBuffers).map { ($0.name, $0.tensor) },
                              uniquingKeysWith: { first, _ in first })
        #expect(ours.count == source.count)
        for (name, entry) in source {
            let target = try #require(CheckpointImport.toolkitName(for: name, in: ours), "\(name) maps to nothing")
            let values = entry.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            #expect(ours[target]?.data == values, "\(name) -> \(target)")
        }
        try expectMatchesPyTorch(checkpoint, stem)
    }

    /// The negative ELBO of the 16 images with PyTorch's fixed noise (its .noise.npy) equals PyTorch's to 1e-5
    /// relative, for every family with an ELBO: vae_std (z = 20, 40; residual; batch norm; the beta runs, whose bound
    /// is taken with beta = 1), vae_conv and gm_vae.
    @Test(arguments: [("vae_z20.zip.pt", "vae_std_z20"), ("vae_z40.zip.pt", "vae_std_z40"), ("vae_z20.zip.pt", "beta_vae_4"),
                      ("res.zip.pt", "vae_std_z20_res"), ("bn.zip.pt", "vae_std_z20_bn"), ("conv.zip.pt", "vae_conv"),
                      ("gm.zip.pt", "gm_vae")])
    func theNegativeELBOWithFixedNoiseMatchesPyTorch(_ file: String, _ runName: String) throws {
        let stem = String(file.prefix { $0 != "." })
        let checkpoint = try imported(file, as: runName)
        let model = try #require(checkpoint.model as? any ExplicitNoiseELBOModel, "\(runName) has no ELBO with given noise")
        let split = try PyTorchVAE.files.get().split
        let noise = try PyTorchVAE.floats(stem + ".noise.npy")
        #expect(noise.shape == model.elboNoiseShape(batch: split.count))
        let perImage = model.negativeELBO(split.imageTensor(first: split.count), noise: Tensor(shape: noise.shape, data: noise.values))
        let ours = perImage.reduce(0, +) / Double(split.count)
        let reference = try #require(try PyTorchVAE.figures(stem)["negative_elbo"])
        #expect(abs(ours - reference) <= 1e-5 * abs(reference), "negative ELBO \(ours) vs PyTorch \(reference)")
    }

    /// What the CLI computes is the same bound with the noise drawn from the evaluation's generator, in order.
    @Test func theGeneratorELBOIsTheExplicitNoiseELBOOfItsDraws() throws {
        let split = try PyTorchVAE.files.get().split
        let images = split.imageTensor(first: split.count)
        for (file, runName) in [("vae_z20.zip.pt", "vae_std_z20"), ("gm.zip.pt", "gm_vae")] {
            let model = try #require(try imported(file, as: runName).model as? any ExplicitNoiseELBOModel)
            var generator = SeededGenerator(seed: 3), copy = generator
            let drawn = try #require(model.negativeELBO(images, generator: &generator))
            let shape = model.elboNoiseShape(batch: split.count)
            let given = model.negativeELBO(images, noise: Tensor(shape: shape, data: copy.normals(shape[0] * shape[1])))
            #expect(drawn == given, "\(runName)")
            var metricsGenerator = SeededGenerator(seed: 3)
            let metrics = ReconstructionMetrics.measure(model, on: split, generator: &metricsGenerator)
            #expect(metrics.negativeELBO == given.reduce(0, +) / Double(split.count))
        }
    }

    /// WAE and VQ-VAE define no ELBO: no explicit-noise bound, and the evaluation reports none.
    @Test(arguments: [("wae.zip.pt", "wae"), ("vq.zip.pt", "vq_vae")])
    func familiesWithoutAnELBOHaveNone(_ file: String, _ runName: String) throws {
        let model = try imported(file, as: runName).model
        #expect(!(model is any ExplicitNoiseELBOModel))
        var generator = SeededGenerator(seed: 0)
        #expect(ReconstructionMetrics.measure(model, on: try PyTorchVAE.files.get().split, generator: &generator).negativeELBO == nil)
    }

    /// Imports the script's `file` as `runName` in a temporary folder (removed before returning) and reads it back.
    func imported(_ file: String, as runName: String) throws -> Checkpoint {
        let scratch = PyTorchVAE.freshFolder()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let source = try PyTorchVAE.copy(file, into: scratch + "/sources")
        return try Checkpoint.read(from: CheckpointImport.run(file: source, run: PyTorchVAE.run(runName), outputFolder: scratch + "/out"))
    }

    @Test func sameNamesImportAsTheZ40AndBetaRuns() throws {
        let large = try imported("vae_z40.legacy.pt", as: "vae_std_z40")
        try expectMatchesPyTorch(large, "vae_z40")
        let betaRun = try imported("vae_z20.zip.pt", as: "beta_vae_4")
        #expect(betaRun.model.configuration.beta == 4)
        try expectMatchesPyTorch(betaRun, "vae_z20")
    }

    @Test func everyProblemIsListedAndNothingIsWritten() throws {
        let scratch = PyTorchVAE.freshFolder(), out = scratch + "/out"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let sources = scratch + "/sources"
        do {
            try CheckpointImport.run(file: PyTorchVAE.copy("broken.pt", into: sources), run: PyTorchVAE.run("vae_std_z20"), outputFolder: out)
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
            try CheckpointImport.run(file: PyTorchVAE.copy("vae_z40.zip.pt", into: sources), run: PyTorchVAE.run("vae_std_z20"), outputFolder: out)
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
        let path = try CheckpointImport.run(file: PyTorchVAE.copy("vae_z20.zip.pt", into: root + "/sources"), run: run, outputFolder: folder)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: CheckpointImportError.checkpointExists(path: path)) {
            try CheckpointImport.run(file: PyTorchVAE.copy("vae_z20.legacy.pt", into: root + "/sources"), run: run, outputFolder: folder)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        // `vae-train sweep` over the same output root would otherwise see other settings and retrain the run.
        let sweep = StudySweep(study: PyTorchVAE.study, dataDirectory: root, outputRoot: root)
        #expect(sweep.decision(for: run, dataChecksum: "any") == .skip)
    }
}
