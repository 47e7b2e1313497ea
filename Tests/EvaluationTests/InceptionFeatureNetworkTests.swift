import Evaluation
import Foundation
import Models
import Storage
import Testing
import TestSupport

/// The evaluator's entry point to Inception-v3 features, and the progress lines of a featurizing stage.
@Suite(.tags(.slow), .skippedWhenFast) struct InceptionFeatureNetworkTests {
    /// Loaded from a safetensors file by path: the file's SHA-256, the same features as the network built from the
    /// same tensors; a missing or truncated file is a one-line error naming it.
    @Test func loadsByPathWithItsDigest() throws {
        let folder = NSTemporaryDirectory() + "inception-entry-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let tensors = InceptionV3.randomTensors(seed: 4)
        var archive = SafeTensorsArchive()
        for (name, entry) in tensors { archive.set(name, entry: entry) }
        let path = folder + "/weights.safetensors"
        try archive.write(to: path)

        let network = try InceptionFeatureNetwork(path: path)
        #expect(network.sha256 == SHA256.hexDigest(of: try SafeTensorsArchive.readFile(path)))
        #expect(network.dimension == 2048)
        let images = (0..<784).map { Float(($0 * 37) % 256) / 255 }
        let features = network.measure(images, count: 1)
        #expect(features.count == 2048 && features.allSatisfy { $0.isFinite && $0 >= 0 } && features.contains { $0 > 0 })
        let direct = try InceptionV3(tensors: tensors, source: "memory").features(of: images, count: 1)
        #expect(features == direct)

        for bad in [folder + "/none.safetensors", folder + "/short.safetensors"] {
            if bad.hasSuffix("short.safetensors") { try Data([1, 2, 3]).write(to: URL(fileURLWithPath: bad)) }
            do {
                _ = try InceptionFeatureNetwork(path: bad)
                Issue.record("\(bad) was accepted")
            } catch let error as InceptionWeightsError {
                #expect(error.description.contains(bad) && !error.description.contains("\n"), "\(error)")
            }
        }
    }

    /// Off a terminal a stage writes one summary line at the end; on a terminal a live line with images/s and an ETA.
    @Test func progressLines() {
        var quiet: [String] = []
        let plain = StageProgress(stage: "features", total: 10, live: false) { quiet.append($0) }
        plain.update(5)
        plain.finish()
        #expect(quiet.count == 1 && quiet[0].hasPrefix("features: 10 images in ") && quiet[0].hasSuffix("images/s)\n"), "\(quiet)")

        var shown: [String] = []
        let live = StageProgress(stage: "features", total: 10, live: true) { shown.append($0) }
        live.update(5)
        live.finish()
        #expect(shown.count == 3, "\(shown)")
        #expect(shown[0].hasPrefix("\rfeatures [###############...............] 5/10 ") && shown[0].contains("images/s ETA "))
        #expect(shown[1] == "\r\u{1B}[K" && shown[2].hasPrefix("features: 10 images in "))
    }
}
