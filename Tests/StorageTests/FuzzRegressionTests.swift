import Foundation
import Storage
import Testing

/// Replays the safetensors fuzz target's inputs (fuzz/regressions/safetensors: crashers kept after their fix;
/// fuzz/corpus/safetensors: the seeds) through the reader without the fuzzing build. A file whose name starts with
/// `valid-` must parse and round-trip; any other regression file must be refused with a SafeTensorsError.
@Suite struct SafeTensorsFuzzRegressionTests {
    static let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fuzz").path

    static func files(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { !$0.hasPrefix(".") && !$0.hasPrefix("README") }.sorted().map { folder + "/" + $0 }
    }

    @Test func regressionsAndSeedsBehave() throws {
        let regressions = Self.files(Self.fuzzFolder + "/regressions/safetensors")
        let seeds = Self.files(Self.fuzzFolder + "/corpus/safetensors")
        #expect(!seeds.isEmpty, "no seed corpus in \(Self.fuzzFolder)/corpus/safetensors")
        for path in regressions + seeds {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let mustParse = seeds.contains(path) || URL(fileURLWithPath: path).lastPathComponent.hasPrefix("valid-")
            do {
                let archive = try SafeTensorsArchive(bytes: bytes, source: path)
                #expect(mustParse, "\(path) was accepted")
                let again = try SafeTensorsArchive(bytes: archive.serialized(), source: path)
                #expect(again == archive, "\(path) does not round-trip")
            } catch let error as SafeTensorsError {
                #expect(!mustParse, "\(path) was refused: \(error)")
                #expect(!error.description.contains("\n"))
            }
        }
    }
}

/// Replays the state-dict fuzz target's inputs (fuzz/regressions/statedict, fuzz/corpus/statedict) through
/// StateDict.read without the fuzzing build. Seeds and `valid-*` files must be read; any other regression file must
/// be refused with a one-line StateDictError, ZipError or SafeTensorsError.
@Suite struct StateDictFuzzRegressionTests {
    @Test func regressionsAndSeedsBehave() throws {
        let folder = SafeTensorsFuzzRegressionTests.fuzzFolder
        let regressions = SafeTensorsFuzzRegressionTests.files(folder + "/regressions/statedict")
        let seeds = SafeTensorsFuzzRegressionTests.files(folder + "/corpus/statedict")
        #expect(seeds.count >= 5, "no seed corpus in \(folder)/corpus/statedict")
        for path in regressions + seeds {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let name = URL(fileURLWithPath: path).lastPathComponent
            // data.pkl seeds are bare pickles, read by the fuzz target as a zip checkpoint's data.pkl.
            let mustParse = (seeds.contains(path) && !name.hasSuffix(".pkl")) || name.hasPrefix("valid-")
            do {
                let tensors = try StateDict.read(bytes: bytes, source: path)
                #expect(mustParse, "\(path) was accepted")
                if seeds.contains(path) && name != "empty.legacy" { #expect(!tensors.isEmpty, "\(path)") }
            } catch {
                #expect(!mustParse, "\(path) was refused: \(error)")
                let message = "\(error)"
                #expect(error is StateDictError || error is ZipError || error is SafeTensorsError, "\(path): \(message)")
                #expect(!message.contains("\n"))
            }
        }
    }
}
