import Datasets
import Foundation
import Storage
import Testing

/// Downloads from `python3 -m http.server` on 127.0.0.1; nothing leaves the machine.
@Suite struct DownloadTests {
    /// A folder holding a tiny gzipped MNIST set, and the checksums of its four files.
    struct ServedSet {
        let folder: TemporaryDirectory
        let checksums: [String: String]

        init() throws {
            folder = try TemporaryDirectory()
            try TinyMNIST.writeAll(into: folder.path)
            var checksums: [String: String] = [:]
            for name in MNIST.fileNames {
                checksums[name] = SHA256.hexDigest(of: try Data(contentsOf: URL(fileURLWithPath: folder.file(name))))
            }
            self.checksums = checksums
        }

        func bytes(of name: String) throws -> Data {
            try Data(contentsOf: URL(fileURLWithPath: folder.file(name)))
        }
    }

    final class ProgressLog: @unchecked Sendable {
        var lines: [String] = []
        func record(_ line: String) { lines.append(line) }
    }

    @Test func allFourFilesArriveAndMatch() throws {
        let served = try ServedSet()
        defer { served.folder.remove() }
        let server = try LocalHTTPServer(serving: served.folder.path)
        defer { server.stop() }
        let destination = try TemporaryDirectory()
        defer { destination.remove() }

        let downloader = MNISTDownloader(mirrors: [server.baseURL], expectedChecksums: served.checksums,
                                         requestTimeout: 10)
        let log = ProgressLog()
        let fetched = try downloader.download(into: destination.path, progress: log.record)
        #expect(fetched == MNIST.fileNames.sorted())
        #expect(destination.contents() == MNIST.fileNames.sorted(), "only the four files, no temporary files")
        for name in MNIST.fileNames {
            #expect(try Data(contentsOf: URL(fileURLWithPath: destination.file(name))) == served.bytes(of: name))
        }
        #expect(try MNIST.load(split: .train, from: destination.path).count == 5)
        #expect(log.lines.contains { $0.contains("SHA-256 verified") })

        // A second run finds everything in place and fetches nothing.
        let again = ProgressLog()
        #expect(try downloader.download(into: destination.path, progress: again.record) == [])
        #expect(again.lines.filter { $0.contains("already present") }.count == 4)
    }

    @Test func aCorruptedFileIsRejectedAndNotWritten() throws {
        let served = try ServedSet()
        defer { served.folder.remove() }
        // The server's t10k-labels differs from what the checksum says.
        let corrupted = "t10k-labels-idx1-ubyte.gz"
        try IDX.write([9, 9, 9], dimensions: [3], to: served.folder.file(corrupted))
        let server = try LocalHTTPServer(serving: served.folder.path)
        defer { server.stop() }
        let destination = try TemporaryDirectory()
        defer { destination.remove() }

        let downloader = MNISTDownloader(mirrors: [server.baseURL], expectedChecksums: served.checksums,
                                         requestTimeout: 10)
        let error = datasetError { try downloader.download(into: destination.path) }
        guard case let .noMirrorSucceeded(file, failures) = error else {
            Issue.record("expected noMirrorSucceeded, got \(String(describing: error))")
            return
        }
        #expect(file == corrupted)
        let actual = SHA256.hexDigest(of: try served.bytes(of: corrupted))
        #expect(failures == [.checksumMismatch(file: corrupted, source: server.baseURL, actual: actual,
                                               expected: served.checksums[corrupted]!)])
        #expect(error?.description.contains("does not match the expected") == true)
        #expect(error?.description.contains("the file was not written") == true)
        // Files are fetched in name order: t10k-images arrived, t10k-labels must not exist in any form.
        #expect(destination.contents() == ["t10k-images-idx3-ubyte.gz"])
    }

    @Test func aCorruptedMirrorFallsThroughToAGoodOne() throws {
        let good = try ServedSet()
        defer { good.folder.remove() }
        let bad = try TemporaryDirectory()
        defer { bad.remove() }
        for name in MNIST.fileNames { // same names, other contents
            try Data(pseudoRandomBytes(count: 100, seed: 4)).write(to: URL(fileURLWithPath: bad.file(name)))
        }
        let badServer = try LocalHTTPServer(serving: bad.path)
        defer { badServer.stop() }
        let goodServer = try LocalHTTPServer(serving: good.folder.path)
        defer { goodServer.stop() }
        let destination = try TemporaryDirectory()
        defer { destination.remove() }

        let downloader = MNISTDownloader(mirrors: [badServer.baseURL, goodServer.baseURL],
                                         expectedChecksums: good.checksums, requestTimeout: 10)
        let log = ProgressLog()
        try downloader.download(into: destination.path, progress: log.record)
        for name in MNIST.fileNames {
            #expect(try Data(contentsOf: URL(fileURLWithPath: destination.file(name))) == good.bytes(of: name))
        }
        #expect(log.lines.filter { $0.contains("does not match the expected") }.count == 4)
    }

    @Test func aMirrorThatIsDownFallsThroughToTheNext() throws {
        let served = try ServedSet()
        defer { served.folder.remove() }
        let server = try LocalHTTPServer(serving: served.folder.path)
        defer { server.stop() }
        let destination = try TemporaryDirectory()
        defer { destination.remove() }
        let down = "http://127.0.0.1:\(try closedPort())/"

        let log = ProgressLog()
        let downloader = MNISTDownloader(mirrors: [down, server.baseURL], expectedChecksums: served.checksums,
                                         requestTimeout: 10)
        let fetched = try downloader.download(into: destination.path, progress: log.record)
        #expect(fetched.count == 4)
        #expect(destination.contents() == MNIST.fileNames.sorted())
        #expect(log.lines.filter { $0.contains(down) }.count >= 4, "each file tried the closed port first")
    }

    @Test func everyMirrorFailingIsOneError() throws {
        let served = try ServedSet()
        defer { served.folder.remove() }
        let server = try LocalHTTPServer(serving: served.folder.path)
        defer { server.stop() }
        let destination = try TemporaryDirectory()
        defer { destination.remove() }
        let down = "http://127.0.0.1:\(try closedPort())/"
        let missing = server.baseURL + "no-such-folder/"

        let downloader = MNISTDownloader(mirrors: [down, missing], expectedChecksums: served.checksums,
                                         requestTimeout: 10)
        let error = datasetError { try downloader.download(into: destination.path) }
        guard case let .noMirrorSucceeded(file, failures) = error else {
            Issue.record("expected noMirrorSucceeded, got \(String(describing: error))")
            return
        }
        #expect(file == "t10k-images-idx3-ubyte.gz")
        #expect(failures.map(ErrorKind.init) == [.transferFailed, .httpStatus])
        #expect(failures.last == .httpStatus(file: file, source: missing, status: 404))
        #expect(destination.contents().isEmpty)
    }

    @Test func aWrongLocalFileIsReplaced() throws {
        let served = try ServedSet()
        defer { served.folder.remove() }
        let destination = try TemporaryDirectory()
        defer { destination.remove() }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: destination.file("train-labels-idx1-ubyte.gz")))

        // A plain folder works as a mirror too (no server needed).
        let downloader = MNISTDownloader(mirrors: [served.folder.path], expectedChecksums: served.checksums)
        let fetched = try downloader.download(into: destination.path)
        #expect(fetched == MNIST.fileNames.sorted())
        #expect(try Data(contentsOf: URL(fileURLWithPath: destination.file("train-labels-idx1-ubyte.gz")))
                == served.bytes(of: "train-labels-idx1-ubyte.gz"))
    }

    @Test func defaultsAreThePublicMirrorsAndKnownChecksums() {
        let downloader = MNISTDownloader()
        #expect(downloader.mirrors == MNISTDownloader.defaultMirrors)
        #expect(downloader.mirrors.first == "https://ossci-datasets.s3.amazonaws.com/mnist/")
        #expect(downloader.expectedChecksums["t10k-images-idx3-ubyte.gz"]
                == "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6")
        #expect(downloader.requestTimeout == 60)
    }
}
