import Foundation

/// Runs one of the package's built executables and captures its output.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

enum Executables {
    /// The folder holding the built products: the test bundle sits beside them.
    static let binFolder: URL = {
        let me = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        return me.deletingLastPathComponent()
    }()

    static func path(_ name: String) -> String { binFolder.appendingPathComponent(name).path }

    static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:],
                    currentDirectory: String? = nil) throws -> CommandResult {
        try run(at: path(name), arguments, environment: environment, currentDirectory: currentDirectory)
    }

    /// Runs any executable (an installed copy of a product, a script); `environment` entries with a nil value are
    /// removed.
    static func run(at executable: String, _ arguments: [String], environment: [String: String?] = [:],
                    currentDirectory: String? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["VAE_NO_REEXEC"] = "1"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// A temporary folder removed at the end of the test.
final class TemporaryFolder {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "vae-e2e-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A tiny MNIST-shaped data set written as raw IDX files: simple strokes whose position depends on the label.
enum TinyMNIST {
    static func write(to folder: String, trainCount: Int = 600, testCount: Int = 100) throws {
        func images(_ count: Int, offset: Int) -> (pixels: [UInt8], labels: [UInt8]) {
            var pixels = [UInt8](repeating: 0, count: count * 784)
            var labels = [UInt8](repeating: 0, count: count)
            for i in 0..<count {
                let label = (i + offset) % 10
                labels[i] = UInt8(label)
                let column = 4 + 2 * label, thickness = 2 + (i % 3)
                for row in 4..<24 { for c in column..<(column + thickness) { pixels[i * 784 + row * 28 + c] = UInt8(150 + (row * 5 + i) % 100) } }
                for c in 6..<22 { pixels[i * 784 + (6 + label) * 28 + c] = 255 }
            }
            return (pixels, labels)
        }
        func idx(_ dims: [Int], _ payload: [UInt8]) -> Data {
            var bytes: [UInt8] = [0, 0, 0x08, UInt8(dims.count)]
            for d in dims { bytes += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
            return Data(bytes + payload)
        }
        let train = images(trainCount, offset: 0), test = images(testCount, offset: 3)
        try idx([trainCount, 28, 28], train.pixels).write(to: URL(fileURLWithPath: folder + "/train-images-idx3-ubyte"))
        try idx([trainCount], train.labels).write(to: URL(fileURLWithPath: folder + "/train-labels-idx1-ubyte"))
        try idx([testCount, 28, 28], test.pixels).write(to: URL(fileURLWithPath: folder + "/t10k-images-idx3-ubyte"))
        try idx([testCount], test.labels).write(to: URL(fileURLWithPath: folder + "/t10k-labels-idx1-ubyte"))
    }
}

/// A tiny data set in `<folder>/mnist` and one run of `model` trained on it for one epoch (one thread) in
/// `<folder>/out/runs/<model>`.
struct TinyTrainedRun {
    let folder = TemporaryFolder()
    var data: String { folder.path + "/mnist" }
    var out: String { folder.path + "/out" }
    let run: String

    init(model: String, trainCount: Int, testCount: Int, batchSize: Int = 64) throws {
        try FileManager.default.createDirectory(atPath: folder.path + "/mnist", withIntermediateDirectories: true)
        try TinyMNIST.write(to: folder.path + "/mnist", trainCount: trainCount, testCount: testCount)
        run = folder.path + "/out/runs/" + model
        let train = try Executables.run("vae-train", ["--model", model, "--epochs", "1", "--batch-size", String(batchSize),
                                                      "--data", folder.path + "/mnist", "--out", folder.path + "/out",
                                                      "--threads", "1"])
        guard train.status == 0 else { throw TrainingFailed(stderr: train.stderr) }
    }

    struct TrainingFailed: Error, CustomStringConvertible {
        let stderr: String
        var description: String { "vae-train failed: \(stderr)" }
    }

    /// A JSON file's top-level object. A `results.json` is first validated against fixtures/results.schema.json
    /// (`scripts/validate-results`, Python's jsonschema), so every results file a test reads is checked against it.
    static func json(_ path: String) throws -> [String: Any] {
        if path.hasSuffix("results.json") {
            let check = try Executables.run(at: "/usr/bin/env", ["python3", Programs.repositoryRoot + "/scripts/validate-results", path])
            guard check.status == 0 else { throw SchemaViolation(report: check.stdout + check.stderr) }
        }
        return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    struct SchemaViolation: Error, CustomStringConvertible {
        let report: String
        var description: String { "results.json does not match fixtures/results.schema.json: \(report)" }
    }

    /// The prior sampler's generation metrics of a results.json object (`samplers.prior.generation`).
    static func priorGeneration(_ results: [String: Any]) -> [String: Any]? {
        ((results["samplers"] as? [String: Any])?["prior"] as? [String: Any])?["generation"] as? [String: Any]
    }
}
