import Autodiff
import Evaluation
import Foundation
import Models
import Testing

/// Cached reference features are keyed by the feature network's SHA-256 and the data checksum.
@Suite struct ReferenceCacheTests {
    static func temporaryFolder() throws -> String {
        let folder = NSTemporaryDirectory() + "refcache-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    static func features(rows: Int = 20, dimension: Int = 4, seed: UInt64 = 1) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return g.normals(rows * dimension)
    }

    @Test func hitOnlyForTheSameNetworkAndData() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let network = String(repeating: "a", count: 64), data = String(repeating: "b", count: 64)
        let reference = try ReferenceFeatures(features: Self.features(), dimension: 4, networkSHA256: network, dataChecksum: data)
        try ReferenceCache.store(reference, directory: folder)

        let hit = try #require(ReferenceCache.load(directory: folder, networkSHA256: network, dataChecksum: data))
        #expect(hit.features == reference.features && hit.statistics == reference.statistics && hit.count == 20)

        let otherNetwork = String(repeating: "c", count: 64), otherData = String(repeating: "d", count: 64)
        #expect(ReferenceCache.load(directory: folder, networkSHA256: otherNetwork, dataChecksum: data) == nil)
        #expect(ReferenceCache.load(directory: folder, networkSHA256: network, dataChecksum: otherData) == nil)
        // Same 16-character prefixes (same file name), different full values: still a miss.
        let samePrefix = String(repeating: "a", count: 16) + String(repeating: "e", count: 48)
        #expect(ReferenceCache.load(directory: folder, networkSHA256: samePrefix, dataChecksum: data) == nil)
    }

    @Test func damagedFileMisses() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let network = String(repeating: "1", count: 64), data = String(repeating: "2", count: 64)
        let reference = try ReferenceFeatures(features: Self.features(), dimension: 4, networkSHA256: network, dataChecksum: data)
        let path = try ReferenceCache.store(reference, directory: folder)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 3] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(ReferenceCache.load(directory: folder, networkSHA256: network, dataChecksum: data) == nil)
    }

    /// loadOrCompute computes once, then reuses; a changed network file or data checksum recomputes.
    @Test func loadOrComputeRecomputesWhenTheKeyChanges() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var g = SeededGenerator(seed: 7)
        try LeNet(generator: &g).write(to: folder + "/a.safetensors", metadata: [:])
        try LeNet(generator: &g).write(to: folder + "/b.safetensors", metadata: [:])
        let a = try FeatureNetwork(path: folder + "/a.safetensors"), b = try FeatureNetwork(path: folder + "/b.safetensors")
        #expect(a.sha256 != b.sha256)
        let images = (0..<(12 * 784)).map { _ in g.nextUniform() }
        let cache = folder + "/cache"
        let first = try ReferenceCache.loadOrCompute(directory: cache, network: a, images: images, count: 12, dataChecksum: "data-1")
        #expect(!first.cached)
        let second = try ReferenceCache.loadOrCompute(directory: cache, network: a, images: images, count: 12, dataChecksum: "data-1")
        #expect(second.cached && second.reference.features == first.reference.features)
        #expect(try !ReferenceCache.loadOrCompute(directory: cache, network: b, images: images, count: 12, dataChecksum: "data-1").cached)
        #expect(try !ReferenceCache.loadOrCompute(directory: cache, network: a, images: images, count: 12, dataChecksum: "data-2").cached)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasPrefix("reference-") }.count == 3)
    }
}
