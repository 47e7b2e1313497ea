import Foundation
import Storage
import Testing
import TestSupport

/// Bad input to `vae-train` and `vae-eval`: each case must end with exactly one "Error: ..." line naming the
/// problem and a non-zero exit status, never a crash, a trap or a stack trace.
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct BadInputTests {
    /// Checks the outcome of a refused command.
    static func expectRefused(_ result: RunOutcome, _ message: String, status: Int32? = nil,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!result.timedOut, "timed out", sourceLocation: sourceLocation)
        #expect(result.exitedNormally, "killed by a signal (crash?): \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.status != 0, "exit status 0; stderr: \(result.stderr)", sourceLocation: sourceLocation)
        if let status { #expect(result.status == status, "exit status \(result.status)", sourceLocation: sourceLocation) }
        #expect(result.errorLines.count == 1, "expected one Error: line, stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.errorLines.first?.contains(message) == true, "expected '\(message)' in: \(result.stderr)",
                sourceLocation: sourceLocation)
        #expect(result.crashMarkers.isEmpty, "crash markers \(result.crashMarkers) in: \(result.stderr)", sourceLocation: sourceLocation)
    }

    /// A tiny valid data set in `folder/mnist`.
    static func tinyData(_ folder: TemporaryFolder, train: Int = 64, test: Int = 16) throws -> String {
        let data = folder.path + "/mnist"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try TinyMNIST.write(to: data, trainCount: train, testCount: test)
        return data
    }

    static func train(_ data: String, _ out: String, _ extra: [String] = []) throws -> RunOutcome {
        try Programs.product("vae-train", ["--model", "vae_std_z20", "--epochs", "1", "--batch-size", "32", "--threads", "1",
                                           "--data", data, "--out", out] + extra)
    }

    // MARK: Data files

    /// One damaged or missing training file, and the message that must name the problem.
    static let dataCases: [(name: String, damage: @Sendable (String) throws -> Void, message: String)] = [
        ("missing images file", { try FileManager.default.removeItem(atPath: $0 + "/train-images-idx3-ubyte") },
         "train-images-idx3-ubyte.gz (or train-images-idx3-ubyte) not found in"),
        ("missing labels file", { try FileManager.default.removeItem(atPath: $0 + "/train-labels-idx1-ubyte") },
         "train-labels-idx1-ubyte.gz (or train-labels-idx1-ubyte) not found in"),
        ("images and labels swapped", { data in
            let images = data + "/train-images-idx3-ubyte", labels = data + "/train-labels-idx1-ubyte"
            try FileManager.default.moveItem(atPath: images, toPath: data + "/swap")
            try FileManager.default.moveItem(atPath: labels, toPath: images)
            try FileManager.default.moveItem(atPath: data + "/swap", toPath: labels)
        }, "dimension"),
        ("wrong magic", { try Damage.write(Damage.idx([4], [1, 2, 3, 4], magic: [0x50, 0x4b]), to: $0 + "/train-labels-idx1-ubyte") },
         "not an IDX file"),
        ("wrong element type", { try Damage.write(Damage.idx([4], [0, 0, 0, 0], typeCode: 0x0D), to: $0 + "/train-labels-idx1-ubyte") },
         "element type 0x0d is not supported"),
        ("wrong number of dimensions", { try Damage.write(Damage.idx([2, 2], [1, 2, 3, 4]), to: $0 + "/train-labels-idx1-ubyte") },
         "the IDX file has 2 dimensions but 1 is expected"),
        ("truncated header", { try Damage.write([0, 0, 8, 3, 0, 0], to: $0 + "/train-images-idx3-ubyte") }, "truncated"),
        ("truncated values", { data in
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: data + "/train-images-idx3-ubyte")))
            try Damage.write(Array(bytes.dropLast(100)), to: data + "/train-images-idx3-ubyte")
        }, "truncated, the header announces"),
        ("trailing bytes", { data in
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: data + "/train-labels-idx1-ubyte")))
            try Damage.write(bytes + [9, 9, 9], to: data + "/train-labels-idx1-ubyte")
        }, "3 unexpected bytes after"),
        ("absurd dimensions", { try Damage.write(Damage.idx([0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], []), to: $0 + "/train-images-idx3-ubyte") },
         "IDX dimensions 4294967295x4294967295x4294967295 are too large"),
        ("images and labels counts differ", { try Damage.write(Damage.idx([3], [1, 2, 3]), to: $0 + "/train-labels-idx1-ubyte") },
         "holds 64 images but"),
        ("10x10 images", { data in
            try Damage.write(Damage.idx([64, 10, 10], [UInt8](repeating: 7, count: 6400)), to: data + "/train-images-idx3-ubyte")
        }, "the training images are 10x10 pixels, model vae_std_z20 needs 784"),
        ("no images", { data in
            try Damage.write(Damage.idx([0, 28, 28], []), to: data + "/train-images-idx3-ubyte")
            try Damage.write(Damage.idx([0], []), to: data + "/train-labels-idx1-ubyte")
        }, "the training set holds no images"),
        ("corrupt gzip", { data in
            let gz = Array(try Data(contentsOf: URL(fileURLWithPath: data + "/train-labels-idx1-ubyte")).gzipForTests())
            var damaged = gz
            for index in 10..<min(gz.count - 8, 30) { damaged[index] ^= 0x5A }
            try Damage.write(damaged, to: data + "/train-labels-idx1-ubyte.gz")
        }, "corrupt gzip data"),
        ("truncated gzip", { data in
            let gz = Array(try Data(contentsOf: URL(fileURLWithPath: data + "/train-images-idx3-ubyte")).gzipForTests())
            try Damage.write(Array(gz.prefix(gz.count / 2)), to: data + "/train-images-idx3-ubyte.gz")
        }, "the gzip stream ends early"),
        ("gzip magic then garbage", { try Damage.write([0x1f, 0x8b, 0x08, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], to: $0 + "/train-images-idx3-ubyte.gz") },
         "train-images-idx3-ubyte.gz"),
        ("images file is a folder", { data in
            try FileManager.default.removeItem(atPath: data + "/train-images-idx3-ubyte")
            try FileManager.default.createDirectory(atPath: data + "/train-images-idx3-ubyte", withIntermediateDirectories: false)
        }, "cannot read"),
    ]

    @Test(arguments: 0..<dataCases.count)
    func trainRefusesBadData(index: Int) throws {
        let dataCase = Self.dataCases[index]
        let folder = TemporaryFolder()
        let data = try Self.tinyData(folder)
        try dataCase.damage(data)
        let result = try Self.train(data, folder.path + "/out")
        Self.expectRefused(result, dataCase.message, status: 1)
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/out/runs/vae_std_z20/checkpoint.safetensors"),
                "\(dataCase.name): a checkpoint was written")
    }

    @Test func evalRefusesBadTestData() throws {
        let folder = TemporaryFolder()
        let data = try Self.tinyData(folder)
        let trained = try Self.train(data, folder.path + "/out")
        #expect(trained.status == 0, "\(trained.stderr)")
        let run = folder.path + "/out/runs/vae_std_z20"
        try Damage.write(Damage.idx([16, 10, 10], [UInt8](repeating: 1, count: 1600)), to: data + "/t10k-images-idx3-ubyte")
        Self.expectRefused(try Programs.product("vae-eval", [run, "--data", data, "--threads", "1"]),
                           "the test images are 10x10 pixels, the model needs 784", status: 1)
        try Damage.write(Damage.idx([0, 28, 28], []), to: data + "/t10k-images-idx3-ubyte")
        try Damage.write(Damage.idx([0], []), to: data + "/t10k-labels-idx1-ubyte")
        Self.expectRefused(try Programs.product("vae-eval", [run, "--data", data, "--threads", "1"]),
                           "the test set holds no images", status: 1)
        try FileManager.default.removeItem(atPath: data + "/t10k-labels-idx1-ubyte")
        Self.expectRefused(try Programs.product("vae-eval", [run, "--data", data, "--threads", "1"]),
                           "t10k-labels-idx1-ubyte.gz (or t10k-labels-idx1-ubyte) not found in", status: 1)
        #expect(!FileManager.default.fileExists(atPath: run + "/results.json"))
    }

    /// `vae-train download`: MNIST needs --to; --inception from a mirror without the file fails in one line, writes nothing.
    @Test func downloadRefusals() throws {
        Self.expectRefused(try Programs.product("vae-train", ["download"]), "--to DIR is required for MNIST", status: 64)
        let folder = TemporaryFolder()
        let empty = folder.path + "/mirror"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let destination = folder.path + "/weights"
        Self.expectRefused(try Programs.product("vae-train", ["download", "--inception", "--to", destination, "--mirror", "file://" + empty + "/"]),
                           "could not download pt_inception-2015-12-05-6726825d.pth", status: 1)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: destination)) ?? []).isEmpty)
    }

    // MARK: Settings and names

    static let settingCases: [(arguments: [String], message: String)] = [
        (["--model", "vae_huge"], "unknown --model 'vae_huge'"),
        (["--model", "vae_std_z20", "--batch-size", "0"], "--batch-size must be >= 1, got 0"),
        (["--model", "vae_std_z20", "--batch-size=-5"], "--batch-size must be >= 1, got -5"),
        (["--model", "vae_std_z20", "--lr=-0.001"], "--lr must be a positive number"),
        (["--model", "vae_std_z20", "--lr", "0"], "--lr must be a positive number"),
        (["--model", "vae_std_z20", "--lr", "nan"], "--lr must be a positive number"),
        (["--model", "vae_std_z20", "--lr", "inf"], "--lr must be a positive number"),
        (["--model", "vae_std_z20", "--epochs", "0"], "--epochs must be >= 1, got 0"),
        (["--model", "vae_std_z20", "--threads", "0"], "--threads must be >= 1, got 0"),
        (["--model", "vae_std_z20", "--seed=-1"], "seed"),
        (["--model", "vae_std_z20", "--epochs", "many"], "epochs"),
        (["sweep", "--jobs", "0"], "--jobs must be between 1 and 64, got 0"),
        (["sweep", "--seeds", "0"], "--seeds must be between 1 and 1000, got 0"),
    ]

    @Test(arguments: 0..<settingCases.count)
    func trainRefusesImpossibleSettings(index: Int) throws {
        let (arguments, message) = Self.settingCases[index]
        let folder = TemporaryFolder()
        let result = try Programs.product("vae-train", arguments + ["--data", folder.path + "/none", "--out", folder.path + "/out"])
        Self.expectRefused(result, message, status: 64)
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/out"))
    }

    @Test func faultInjectionTyposAreRefused() throws {
        let folder = TemporaryFolder()
        let data = try Self.tinyData(folder)
        let result = try Programs.product("vae-train", ["--model", "vae_std_z20", "--epochs", "1", "--data", data,
                                                        "--out", folder.path + "/out"],
                                          environment: ["VAE_FAULT_INJECT": "nan-at-batch:3"])
        Self.expectRefused(result, "VAE_FAULT_INJECT must be nan-loss:EPOCH:BATCH, nan-param:EPOCH:BATCH or pause:EPOCH:BATCH", status: 1)
    }

    @Test func evalRefusesMissingRunsAndBadSettings() throws {
        let folder = TemporaryFolder()
        let data = try Self.tinyData(folder)
        Self.expectRefused(try Programs.product("vae-eval", [folder.path + "/out/runs/no_such_run", "--data", data]),
                           "no checkpoint at \(folder.path)/out/runs/no_such_run/checkpoint.safetensors", status: 1)
        Self.expectRefused(try Programs.product("vae-eval", [folder.path, "--scale", "0"]), "--scale must be in 1...16", status: 64)
        Self.expectRefused(try Programs.product("vae-eval", [folder.path, "--threads", "0"]), "--threads must be >= 1", status: 64)
    }

    @Test func priorRefusesFoldersWithoutAVQCheckpoint() throws {
        let folder = TemporaryFolder()
        Self.expectRefused(try Programs.product("vae-train", ["prior", folder.path + "/none"]),
                           "holds no checkpoint.safetensors; pass the folder of a trained vq_vae run", status: 64)
        let run = try Self.trainedRun(folder)
        let runFolder = URL(fileURLWithPath: run.checkpoint).deletingLastPathComponent().path
        Self.expectRefused(try Programs.product("vae-train", ["prior", runFolder, "--epochs", "0"]), "--epochs must be >= 1", status: 64)
        Self.expectRefused(try Programs.product("vae-train", ["prior", runFolder, "--data", run.data, "--threads", "1"]),
                           "holds a mlp_vae model; a code prior needs a vq_vae checkpoint", status: 1)
    }

    // MARK: Checkpoints

    /// Trains one epoch on a tiny set; returns (data folder, output root, checkpoint path).
    static func trainedRun(_ folder: TemporaryFolder, epochs: Int = 1) throws -> (data: String, out: String, checkpoint: String) {
        let data = try tinyData(folder)
        let out = folder.path + "/out"
        let result = try train(data, out, ["--epochs", "\(epochs)"])
        #expect(result.status == 0, "training failed: \(result.stderr)")
        return (data, out, out + "/runs/vae_std_z20/checkpoint.safetensors")
    }

    /// Damage applied to a good checkpoint, and what vae-eval and vae-train --resume must say.
    static let checkpointCases: [(name: String, damage: @Sendable (String) throws -> Void, message: String)] = [
        ("unknown format version", { try Damage.rewriteCheckpoint($0) { $0["format_version"] = "7" } }, "format version 7, this build reads 1 and 2"),
        ("not a toolkit checkpoint", { try Damage.rewriteCheckpoint($0) { $0["format"] = nil } }, "no format=vae-toolkit-checkpoint entry"),
        ("unknown model kind", { try Damage.rewriteCheckpoint($0) { $0["model_kind"] = "diffusion" } }, "unknown model kind 'diffusion'"),
        ("model config not JSON", { try Damage.rewriteCheckpoint($0) { $0["model_config"] = "{" } }, "model_config or training metadata is not valid JSON"),
        ("model config of another shape", { path in
            try Damage.rewriteCheckpoint(path) { $0["model_config"] = #"{"hiddenSize":300,"kind":"mlp_vae"}"# }
        }, "the model needs [300"),
        ("tensor data changed", { path in
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count - 100] ^= 0x01
            try Damage.write(bytes, to: path)
        }, "tensor data does not match its recorded SHA-256"),
        ("metadata changed", { path in
            var archive = try SafeTensorsArchive(contentsOf: path)
            archive.metadata["training"] = archive.metadata["training"]!.replacingOccurrences(of: "\"epochs\":1", with: "\"epochs\":9")
            try archive.write(to: path)
        }, "header (metadata, tensor names and shapes) does not match its recorded SHA-256"),
        ("header longer than the file", { path in
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[5] = 0x7F  // header length ~ 2^47
            try Damage.write(bytes, to: path)
        }, "exceeds the 100000000-byte limit"),
        ("header length past the end", { path in
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            let size = UInt64(bytes.count)
            for index in 0..<8 { bytes[index] = UInt8(truncatingIfNeeded: size >> UInt64(8 * index)) }
            try Damage.write(bytes, to: path)
        }, "runs past the end of the"),
        ("offsets past the buffer", { path in
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            try Damage.write(Array(bytes.dropLast(4)), to: path)
        }, "of the data buffer but the buffer has only"),
        ("size that does not fit the shape", { path in
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            // decoder.fc3.bias is [400]: claim [401] for the same byte range (same header length).
            let needle = Array(#""decoder.fc3.bias":{"dtype":"F32","shape":[400]"#.utf8)
            guard let start = (0..<min(bytes.count - needle.count, 20_000)).first(where: { bytes[$0..<($0 + needle.count)].elementsEqual(needle) })
            else { throw CocoaError(.fileReadCorruptFile) }
            bytes[start + needle.count - 2] = UInt8(ascii: "1")
            try Damage.write(bytes, to: path)
        }, "tensor \"decoder.fc3.bias\" occupies 1600 bytes but its shape and dtype need 1604"),
        ("empty file", { try Damage.write([], to: $0) }, "too short for a safetensors file"),
        ("text file", { try Damage.write(Array("not a checkpoint at all".utf8), to: $0) }, "safetensors"),
        ("checkpoint is a folder", { path in
            try FileManager.default.removeItem(atPath: path)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }, "not a regular file"),
        ("invalid resume state", { path in
            try Damage.rewriteCheckpoint(path) { $0["resume"] = #"{"adamStep":2,"generator":[0,0,0,0]}"# }
        }, "resume state is invalid"),
    ]

    @Test(arguments: 0..<checkpointCases.count)
    func damagedCheckpointsAreRefused(index: Int) throws {
        let checkpointCase = Self.checkpointCases[index]
        let folder = TemporaryFolder()
        let (data, out, checkpoint) = try Self.trainedRun(folder)
        try checkpointCase.damage(checkpoint)
        let damaged = try? Data(contentsOf: URL(fileURLWithPath: checkpoint))
        // vae-train --resume (the resume state is only read there; vae-eval ignores it).
        let resumed = try Self.train(data, out, ["--epochs", "2", "--resume"])
        Self.expectRefused(resumed, checkpointCase.message, status: 1)
        let afterwards = try? Data(contentsOf: URL(fileURLWithPath: checkpoint))
        #expect(afterwards == damaged, "\(checkpointCase.name): the checkpoint was changed")
        if checkpointCase.name != "invalid resume state" {
            let evaluated = try Programs.product("vae-eval", [checkpoint, "--data", data, "--threads", "1"])
            Self.expectRefused(evaluated, checkpointCase.message, status: 1)
            #expect(!FileManager.default.fileExists(atPath: out + "/runs/vae_std_z20/results.json"))
        }
    }

    // MARK: Unwritable output and full disks

    @Test func outputUnderAFileIsRefused() throws {
        let folder = TemporaryFolder()
        let data = try Self.tinyData(folder)
        try Damage.write([1], to: folder.path + "/plain-file")
        Self.expectRefused(try Self.train(data, folder.path + "/plain-file/out"), "cannot create \(folder.path)/plain-file/out/runs/vae_std_z20", status: 1)
    }

    /// `ulimit -f`: the checkpoint write fails with EFBIG; the message names the file, the old checkpoint stays.
    @Test func fileSizeLimitFailsTheWriteCleanly() throws {
        let folder = TemporaryFolder()
        let data = try Self.tinyData(folder)
        let out = folder.path + "/out", checkpoint = out + "/runs/vae_std_z20/checkpoint.safetensors"
        // An unfinished run: epoch 1 written, epoch 2 stopped by an injected NaN.
        let first = try Programs.product("vae-train", ["--model", "vae_std_z20", "--epochs", "2", "--batch-size", "32", "--threads", "1",
                                                       "--data", data, "--out", out], environment: ["VAE_FAULT_INJECT": "nan-loss:2:1"])
        #expect(first.status == 1 && first.stderr.contains("diverged at epoch 2, batch 1"), "\(first.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        let result = try Programs.productWithFileSizeLimit("vae-train", blocks: 1024, [
            "--model", "vae_std_z20", "--epochs", "2", "--batch-size", "32", "--threads", "1", "--data", data, "--out", out, "--resume"])
        Self.expectRefused(result, "could not write \(checkpoint): File too large (is the disk full?)", status: 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out + "/runs/vae_std_z20").filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")

        // vae-eval: the sample grid (about 40 KB) cannot be written; 8 KiB still lets stderr (a file here) through.
        let eval = try Programs.productWithFileSizeLimit("vae-eval", blocks: 8, [checkpoint, "--data", data, "--threads", "1"])
        Self.expectRefused(eval, "samples.png", status: 1)
        #expect(!FileManager.default.fileExists(atPath: out + "/runs/vae_std_z20/results.json"))
    }

    /// A real full disk: a 64 KiB tmpfs (needs root and a sandbox that allows mounts; skipped otherwise).
    @Test func fullDiskFailsTheWriteCleanly() throws {
        let folder = TemporaryFolder()
        let data = try Self.tinyData(folder)
        let mountPoint = folder.path + "/small-disk"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = try Programs.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint])
        guard mount.status == 0 else {
            print("BadInputTests.fullDiskFailsTheWriteCleanly: skipped, cannot mount a tmpfs here: \(mount.stderr)")
            return
        }
        defer { _ = try? Programs.run("/bin/umount", [mountPoint]) }
        let result = try Self.train(data, mountPoint + "/out")
        Self.expectRefused(result, "could not write \(mountPoint)/out/runs/vae_std_z20/checkpoint.safetensors: No space left on device", status: 1)
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: mountPoint + "/out/runs/vae_std_z20")) ?? []
        #expect(leftovers.isEmpty, "files left on the full disk: \(leftovers)")
    }
}

extension Data {
    /// gzip via the system's gzip tool, so the test does not depend on the code under test to compress.
    func gzipForTests() throws -> Data {
        let folder = NSTemporaryDirectory() + "gz-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try write(to: URL(fileURLWithPath: folder + "/x"))
        let result = try Programs.run("/bin/gzip", ["-n", folder + "/x"])
        guard result.status == 0 else { throw CocoaError(.fileWriteUnknown) }
        return try Data(contentsOf: URL(fileURLWithPath: folder + "/x.gz"))
    }
}
