import Autodiff
import Foundation
import Models
import Storage

/// Turns a state dict trained elsewhere (a PyTorch `.pt`/`.pth` in either of torch.save's formats, or a plain
/// safetensors file) into a normal checkpoint of a study run's architecture, which every `vae-eval` command then
/// evaluates like one of ours.
///
/// Names (the table in notebooks-md/models.md): a source tensor keeps its name when the model has a tensor of that
/// name (`encoder.fc1.weight`); otherwise it maps to `encoder.<name>` or `decoder.<name>`, whichever the model has.
/// So the pytorch/examples VAE (`fc1`, `fc21`, `fc22`, `fc3`, `fc4`) imports with no options as vae_std_z20 and every
/// run of the same shapes (vae_std_z40 with z = 40, the beta runs); any module whose attribute paths are the
/// toolkit's names imports as it is. `*.num_batches_tracked` (batch-norm bookkeeping) is ignored.
///
/// Every tensor is checked before anything is written: missing, unknown, mis-shaped, non-float32 and doubly mapped
/// tensors are refused together in one error. The checkpoint records where it came from (metadata `provenance` =
/// `imported`, `imported_from`, `imported_sha256`; no training history) and an existing checkpoint is never replaced.
public enum CheckpointImport {
    public static let provenanceKey = "provenance"
    public static let importedValue = "imported"
    public static let sourceKey = "imported_from"
    public static let sourceDigestKey = "imported_sha256"

    /// The checkpoint file inside `outputFolder`, as vae-train names it.
    public static func checkpointPath(in outputFolder: String) -> String { RunFolder(path: outputFolder).checkpoint }

    /// Whether a checkpoint was imported rather than trained here.
    public static func isImported(_ checkpoint: Checkpoint) -> Bool {
        checkpoint.extraMetadata[provenanceKey] == importedValue
    }

    /// Imports the state dict at `file` as a checkpoint of `run`, written to `outputFolder/checkpoint.safetensors`
    /// (the folder is created; `vae-eval outputFolder` evaluates it).
    ///
    /// - Returns: the checkpoint's path.
    /// - Throws: ``CheckpointImportError`` (an existing checkpoint, or the tensors that do not fit, all listed), or
    ///   the readers' errors (`StateDictError`, `ZipError`, `SafeTensorsError`, `FileError`) for the file itself.
    @discardableResult
    public static func run(file: String, run: Study.Run, outputFolder: String) throws -> String {
        let destination = checkpointPath(in: outputFolder)
        if FileManager.default.fileExists(atPath: destination) {
            throw CheckpointImportError.checkpointExists(path: destination)
        }
        let bytes = try SafeTensorsArchive.readFile(file)
        let tensors = try StateDict.read(bytes: bytes, source: file)
        var generator = SeededGenerator(seed: 0)
        let model = try ModelFactory.make(run.model, generator: &generator)
        let expected = model.namedParameters + model.namedBuffers
        let byName = Dictionary(expected.map { ($0.name, $0.tensor) }, uniquingKeysWith: { first, _ in first })

        var problems: [String] = []
        var assigned: [String: String] = [:]   // toolkit name -> source name
        for name in tensors.keys.sorted() {
            guard let entry = tensors[name] else { continue }
            if name.hasSuffix(".num_batches_tracked") && byName[name] == nil { continue }
            guard let target = toolkitName(for: name, in: byName) else {
                problems.append("unexpected tensor '\(name)'")
                continue
            }
            if let other = assigned[target] {
                problems.append("'\(other)' and '\(name)' both map to '\(target)'")
                continue
            }
            assigned[target] = name
            let tensor = byName[target]!
            if entry.dtype != .f32 {
                problems.append("'\(name)' is \(entry.dtype.rawValue), not F32 (convert it with .float() in PyTorch)")
            } else if entry.shape != tensor.shape {
                problems.append("'\(name)' has shape \(entry.shape), \(target) needs \(tensor.shape)")
            }
        }
        for (name, tensor) in expected where assigned[name] == nil {
            problems.append("missing '\(name)' (\(tensor.shape))")
        }
        guard problems.isEmpty else {
            throw CheckpointImportError.tensorsDoNotFit(source: file, run: run.name, problems: problems)
        }
        for (target, source) in assigned {
            let entry = tensors[source]!
            byName[target]!.data = entry.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }

        let training = TrainingRecord(runName: run.name, epochs: 0, batchSize: run.training.batchSize,
                                      learningRate: run.training.learningRate, seed: run.training.seed,
                                      threads: run.training.threads, dataChecksum: importedValue)
        let name = URL(fileURLWithPath: file).lastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: outputFolder, withIntermediateDirectories: true)
        } catch {
            throw FileError.cannotCreate(path: outputFolder, reason: error.localizedDescription)
        }
        // Checked again just before writing: the write itself replaces atomically, which must not hide a file made meanwhile.
        if FileManager.default.fileExists(atPath: destination) {
            throw CheckpointImportError.checkpointExists(path: destination)
        }
        try Checkpoint.write(model: model, training: training,
                             extraMetadata: [provenanceKey: importedValue, sourceKey: name,
                                             sourceDigestKey: SHA256.hexDigest(of: bytes)],
                             to: destination)
        return destination
    }

    /// The toolkit name a source tensor maps to: itself, else `encoder.<name>` or `decoder.<name>` if exactly one exists.
    static func toolkitName(for name: String, in model: [String: Tensor]) -> String? {
        if model[name] != nil { return name }
        let candidates = ["encoder." + name, "decoder." + name].filter { model[$0] != nil }
        return candidates.count == 1 ? candidates[0] : nil
    }
}

/// Why a state dict could not be imported. Each `description` is one line.
public enum CheckpointImportError: Error, CustomStringConvertible, Equatable {
    /// The output folder already holds a checkpoint, which import never replaces.
    case checkpointExists(path: String)
    /// Tensors are missing, unknown, mis-shaped or not float32; every problem is listed.
    case tensorsDoNotFit(source: String, run: String, problems: [String])

    public var description: String {
        switch self {
        case let .checkpointExists(path):
            return "\(path) already exists; import never replaces a checkpoint, choose another --out folder or move the file away"
        case let .tensorsDoNotFit(source, run, problems):
            return "\(oneLine(source)) does not fit \(run) (\(problems.count) problem\(problems.count == 1 ? "" : "s"): "
                + problems.map(oneLine).joined(separator: "; ")
                + "); nothing was written (names: notebooks-md/models.md)"
        }
    }
}
