import Datasets
import Foundation
import Storage
import Testing

/// Replays the IDX/gzip fuzz target's inputs (fuzz/regressions/idx: crashers and leaks kept after their fix;
/// fuzz/corpus/idx: the seeds) through the readers without the fuzzing build. A file whose name starts with
/// `valid-` (and every seed) must decode and re-encode to the same bytes; any other regression file must be refused
/// with a DatasetError. (Leaks only show under scripts/fuzz, which runs AddressSanitizer; replay them there with
/// `.build-fuzz/fuzz-idx fuzz/regressions/idx/*`.)
@Suite struct IDXFuzzRegressionTests {
    static let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fuzz").path

    static func files(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { !$0.hasPrefix(".") && !$0.hasPrefix("README") }.sorted().map { folder + "/" + $0 }
    }

    @Test func regressionsAndSeedsBehave() throws {
        let regressions = Self.files(Self.fuzzFolder + "/regressions/idx")
        let seeds = Self.files(Self.fuzzFolder + "/corpus/idx")
        #expect(!regressions.isEmpty && !seeds.isEmpty)
        for path in regressions + seeds {
            let mustDecode = seeds.contains(path) || URL(fileURLWithPath: path).lastPathComponent.hasPrefix("valid-")
            do {
                // The same path MNIST.load takes: read, gunzip if the magic says so, decode.
                let array = try IDX.read(contentsOf: path, dimensionCount: nil)
                #expect(mustDecode, "\(path) was accepted")
                let plain = try Gzip.contentsOfFile(atPath: path)
                // The writer needs at least one dimension; the reader also accepts rank 0 (a single value).
                if !array.dimensions.isEmpty {
                    #expect(try IDX.encode(array.values, dimensions: array.dimensions) == plain, "\(path) does not round-trip")
                }
            } catch let error as DatasetError {
                #expect(!mustDecode, "\(path) was refused: \(error)")
                #expect(!error.description.contains("\n"))
            }
        }
    }
}

/// Replays the npz fuzz target's inputs (fuzz/regressions/npz, fuzz/corpus/npz: np.savez and np.savez_compressed
/// seeds) through NPZ.decode. Seeds and `valid-*` files must decode and round-trip through NPZ.encode; any other
/// regression file must be refused with a one-line error.
@Suite struct NPZFuzzRegressionTests {
    @Test func regressionsAndSeedsBehave() throws {
        let folder = IDXFuzzRegressionTests.fuzzFolder
        let regressions = IDXFuzzRegressionTests.files(folder + "/regressions/npz")
        let seeds = IDXFuzzRegressionTests.files(folder + "/corpus/npz")
        #expect(seeds.count >= 4)
        for path in regressions + seeds {
            // The .npy and .deflate seeds are read by the fuzz target as an entry and as deflate data, not as .npz.
            let mustDecode = (seeds.contains(path) && path.hasSuffix(".npz")) || URL(fileURLWithPath: path).lastPathComponent.hasPrefix("valid-")
            do {
                let arrays = try NPZ.read(contentsOf: path)
                #expect(mustDecode, "\(path) was accepted")
                // Compared as bytes: NaN elements are not equal to themselves.
                let encoded = NPZ.encode(arrays)
                #expect(try NPZ.encode(NPZ.decode(encoded, source: path)) == encoded)
            } catch {
                #expect(!mustDecode, "\(path) was refused: \(error)")
                #expect(!"\(error)".contains("\n"))
            }
            // The fuzz target also reads each input as the one stored entry of an .npz file.
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            do { _ = try NPZ.decode(ZipArchive.stored([("x.npy", bytes)]), source: "wrapped") } catch {
                #expect(!"\(error)".contains("\n"), "\(path) as an entry: \(error)")
            }
        }
    }
}
