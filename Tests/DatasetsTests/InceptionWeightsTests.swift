import Datasets
import Foundation
import Storage
import Testing

/// The Inception weights' download (from `python3 -m http.server` on 127.0.0.1) and lookup. The published file's
/// SHA-256 prefix 6726825d cannot be produced here, so the tests serve a small state dict of their own under a
/// name of theirs and pass its digest's first 8 digits as the expected prefix.
@Suite struct InceptionWeightsTests {
    /// A folder serving `fake-inception.pth`: a safetensors state dict (StateDict.read accepts it), and its prefix.
    struct ServedWeights {
        let folder: TemporaryDirectory
        let name = "fake-inception.pth"
        let bytes: [UInt8]
        let prefix: String

        init() throws {
            folder = try TemporaryDirectory()
            var archive = SafeTensorsArchive()
            archive.set("Conv2d_1a_3x3.conv.weight", floats: (0..<27).map { Float($0) / 27 }, shape: [1, 3, 3, 3])
            archive.set("fc.weight", floats: [1, 2], shape: [1, 2])
            bytes = archive.serialized()
            try Data(bytes).write(to: URL(fileURLWithPath: folder.file(name)))
            prefix = String(SHA256.hexDigest(of: bytes).prefix(8))
        }
    }

    @Test func downloadVerifiesThePrefixAndTheCacheIsFound() throws {
        let served = try ServedWeights()
        defer { served.folder.remove() }
        let cacheHome = try TemporaryDirectory()
        defer { cacheHome.remove() }
        let cache = InceptionWeights.cacheFolder(environment: ["XDG_CACHE_HOME": cacheHome.path, "HOME": "/nonexistent"])
        #expect(cache == cacheHome.path + "/vae-toolkit")

        let server = try LocalHTTPServer(serving: served.folder.path)
        defer { server.stop() }
        let log = DownloadTests.ProgressLog()
        let path = try InceptionWeights.download(into: cache, mirror: server.baseURL, fileName: served.name,
                                                 sha256Prefix: served.prefix, requestTimeout: 10, progress: log.record)
        server.stop()
        #expect(path == cache + "/" + served.name)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == served.bytes)
        #expect(log.lines.contains { $0.contains("SHA-256 verified") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache) == [served.name], "no temporary file left")

        // With the server gone, a second download finds the verified file in place.
        let again = DownloadTests.ProgressLog()
        #expect(try InceptionWeights.download(into: cache, mirror: server.baseURL, fileName: served.name,
                                              sha256Prefix: served.prefix, requestTimeout: 10, progress: again.record) == path)
        #expect(again.lines == ["\(served.name): already present, SHA-256 verified"])

        // The file the download left is what a command needing the weights would read.
        try FileManager.default.moveItem(atPath: path, toPath: cache + "/" + InceptionWeights.fileName)
        let located = try InceptionWeights.locate(cacheFolder: cache)
        #expect(located == cache + "/" + InceptionWeights.fileName)
        #expect(try StateDict.read(contentsOf: located)["fc.weight"]?.shape == [1, 2])
    }

    @Test func aPrefixMismatchLeavesNoFile() throws {
        let served = try ServedWeights()
        defer { served.folder.remove() }
        let destination = try TemporaryDirectory()
        defer { destination.remove() }
        let server = try LocalHTTPServer(serving: served.folder.path)
        defer { server.stop() }
        let wrong = served.prefix.first == "0" ? "10000000" : "00000000"
        let error = datasetError {
            try InceptionWeights.download(into: destination.path, mirror: server.baseURL, fileName: served.name,
                                          sha256Prefix: wrong, requestTimeout: 10)
        }
        guard case let .noMirrorSucceeded(file, failures) = error else {
            Issue.record("expected noMirrorSucceeded, got \(String(describing: error))")
            return
        }
        #expect(file == served.name)
        #expect(failures == [.checksumMismatch(file: served.name, source: server.baseURL,
                                               actual: SHA256.hexDigest(of: served.bytes), expected: wrong)])
        #expect(error?.description.contains("does not match the expected \(wrong)") == true)
        #expect(error?.description.contains("the file was not written") == true)
        #expect(destination.contents().isEmpty, "nothing, not even a temporary file, is left")

        // A prefix shorter than 8 digits never matches, even when it is right.
        let short = datasetError {
            try InceptionWeights.download(into: destination.path, mirror: server.baseURL, fileName: served.name,
                                          sha256Prefix: String(served.prefix.prefix(4)), requestTimeout: 10)
        }
        #expect(short != nil)
        #expect(destination.contents().isEmpty)
    }

    @Test func aMissingFileSaysHowToGetIt() throws {
        let cache = try TemporaryDirectory()
        defer { cache.remove() }
        #expect(throws: InceptionWeightsError.notInCache(folder: cache.path)) { try InceptionWeights.locate(cacheFolder: cache.path) }
        let message = InceptionWeightsError.notInCache(folder: cache.path).description
        #expect(message == "the Inception weights pt_inception-2015-12-05-6726825d.pth are not in \(cache.path); run `vae-train download --inception`, or download https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth yourself and put it in that folder")

        // An explicit path wins over the cache, and must exist; a folder is not a weights file.
        let explicit = cache.file("mine.pth")
        #expect(throws: InceptionWeightsError.notAtPath(path: explicit)) { try InceptionWeights.locate(explicit: explicit, cacheFolder: cache.path) }
        #expect(InceptionWeightsError.notAtPath(path: explicit).description.contains("run `vae-train download --inception`"))
        #expect(throws: InceptionWeightsError.notAtPath(path: cache.path)) { try InceptionWeights.locate(explicit: cache.path) }
        try Data([1]).write(to: URL(fileURLWithPath: explicit))
        try Data([2]).write(to: URL(fileURLWithPath: cache.file(InceptionWeights.fileName)))
        #expect(try InceptionWeights.locate(explicit: explicit, cacheFolder: cache.path) == explicit)
        #expect(try InceptionWeights.locate(cacheFolder: cache.path) == cache.file(InceptionWeights.fileName))
    }

    @Test func cacheFolderFollowsXDG() {
        #expect(InceptionWeights.cacheFolder(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"]) == "/c/vae-toolkit")
        // A relative or empty XDG_CACHE_HOME is ignored, as the XDG base directory specification says.
        #expect(InceptionWeights.cacheFolder(environment: ["XDG_CACHE_HOME": "rel", "HOME": "/h"]) == "/h/.cache/vae-toolkit")
        #expect(InceptionWeights.cacheFolder(environment: ["XDG_CACHE_HOME": "", "HOME": "/h"]) == "/h/.cache/vae-toolkit")
        #expect(InceptionWeights.cacheFolder(environment: ["HOME": "/h"]) == "/h/.cache/vae-toolkit")
    }

    @Test func thePublishedNameCarriesThePrefix() {
        #expect(InceptionWeights.fileName == "pt_inception-2015-12-05-6726825d.pth")
        #expect(InceptionWeights.fileName.contains("-" + InceptionWeights.sha256Prefix + "."))
        #expect(InceptionWeights.defaultMirror == "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/")
    }
}
