import Datasets
import Foundation
import Storage
import Testing

@Suite struct MNISTTests {
    @Test(arguments: [true, false])
    func loadsATinySet(compressed: Bool) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let tiny = TinyMNIST(count: 5)
        try tiny.write(split: .train, into: folder.path, compressed: compressed)

        let split = try MNIST.load(split: .train, from: folder.path)
        #expect(split.count == 5)
        #expect(split.rows == 28 && split.columns == 28)
        #expect(split.images.count == 5 * 784)
        #expect(split.labels == tiny.labels)
        #expect(split.images.allSatisfy { (0...1).contains($0) })
        #expect(split.images[0] == 0 && split.images[1] == 1)
        let exact = zip(split.images, tiny.pixels).allSatisfy { $0 == Float($1) / 255 }
        #expect(exact, "every value is exactly pixel / 255")
    }

    @Test func splitsUseTheirOwnFiles() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try TinyMNIST.writeAll(into: folder.path)
        #expect(try MNIST.load(split: .train, from: folder.path).count == 5)
        #expect(try MNIST.load(split: .test, from: folder.path).labels == TinyMNIST(count: 3, seed: 2).labels)
    }

    @Test func nonSquareImagesKeepTheirShape() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try TinyMNIST(count: 2, rows: 3, columns: 5).write(split: .test, into: folder.path)
        let split = try MNIST.load(split: .test, from: folder.path)
        #expect((split.count, split.rows, split.columns, split.pixelsPerImage) == (2, 3, 5, 15))
    }

    @Test func mismatchedCountsAreRejected() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try TinyMNIST(count: 5).write(split: .train, into: folder.path)
        try IDX.write([1, 2, 3, 4], dimensions: [4], to: folder.file("train-labels-idx1-ubyte.gz"))

        let error = datasetError { _ = try MNIST.load(split: .train, from: folder.path) }
        #expect(error == .countMismatch(imagesPath: folder.file("train-images-idx3-ubyte.gz"), images: 5,
                                        labelsPath: folder.file("train-labels-idx1-ubyte.gz"), labels: 4))
    }

    @Test func swappedFilesAreRejected() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let tiny = TinyMNIST(count: 2)
        try IDX.write(tiny.labels, dimensions: [2], to: folder.file("t10k-images-idx3-ubyte.gz"))
        try IDX.write(tiny.pixels, dimensions: [2, 28, 28], to: folder.file("t10k-labels-idx1-ubyte.gz"))
        let error = datasetError { _ = try MNIST.load(split: .test, from: folder.path) }
        #expect(error.map(ErrorKind.init) == .wrongDimensionCount)
    }

    @Test func missingFilesAreReported() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let error = datasetError { _ = try MNIST.load(split: .test, from: folder.path) }
        #expect(error == .missingFile(directory: folder.path, name: "t10k-images-idx3-ubyte.gz"))
        #expect(error?.description.contains("MNIST_DIR") == true)
    }

    @Test func checksumOfFilesHashesTheListing() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try TinyMNIST.writeAll(into: folder.path)
        var listing = ""
        for name in MNIST.fileNames.sorted() {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: folder.file(name)))
            listing += "\(SHA256.hexDigest(of: bytes))  \(name)\n"
        }
        let checksum = try MNIST.checksumOfFiles(in: folder.path)
        #expect(checksum == SHA256.hexDigest(of: Array(listing.utf8)))

        try TinyMNIST(count: 4, seed: 3).write(split: .test, into: folder.path)
        #expect(try MNIST.checksumOfFiles(in: folder.path) != checksum, "different data, different checksum")
    }

    @Test func fileNamesAreThePublishedOnes() {
        #expect(Set(MNIST.fileNames) == Set(MNISTDownloader.knownChecksums.keys))
        #expect(MNIST.Split.allCases.flatMap { [$0.fileNames.images, $0.fileNames.labels] }.sorted()
                == MNIST.fileNames.sorted())
    }
}

@Suite struct ResolveDataDirectoryTests {
    @Test func explicitWinsOverEverything() {
        let resolved = MNIST.resolveDataDirectory(explicit: "/given", environment: ["MNIST_DIR": "/from-env"],
                                                  currentDirectory: repositoryRoot)
        #expect(resolved == "/given")
    }

    @Test func environmentWinsOverTheRepository() {
        let resolved = MNIST.resolveDataDirectory(explicit: nil, environment: ["MNIST_DIR": "/from-env"],
                                                  currentDirectory: repositoryRoot)
        #expect(resolved == "/from-env")
    }

    @Test func emptyValuesAreIgnored() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let resolved = MNIST.resolveDataDirectory(explicit: "", environment: ["MNIST_DIR": ""],
                                                  currentDirectory: folder.path)
        #expect(resolved == folder.path + "/data/mnist")
    }

    @Test func repositoryRootIsFoundFromASubfolder() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try Data("// swift-tools-version:6.0\n".utf8).write(to: URL(fileURLWithPath: folder.file("Package.swift")))
        let nested = folder.file("Sources/Module/deeper")
        try FileManager.default.createDirectory(atPath: nested, withIntermediateDirectories: true)
        let resolved = MNIST.resolveDataDirectory(explicit: nil, environment: [:], currentDirectory: nested)
        #expect(URL(fileURLWithPath: resolved).standardizedFileURL.path
                == URL(fileURLWithPath: folder.file("data/mnist")).standardizedFileURL.path)
    }

    @Test func thisRepositoryIsFound() {
        let resolved = MNIST.resolveDataDirectory(explicit: nil, environment: [:],
                                                  currentDirectory: repositoryRoot + "/Tests/DatasetsTests")
        #expect(resolved == URL(fileURLWithPath: repositoryRoot + "/data/mnist").standardizedFileURL.path)
    }

    @Test func withoutARepositoryTheCurrentDirectoryIsUsed() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let resolved = MNIST.resolveDataDirectory(explicit: nil, environment: [:], currentDirectory: folder.path)
        #expect(resolved == folder.path + "/data/mnist")
    }
}

@Suite(.enabled(if: realMNISTAvailable, "needs ../shared/data/mnist"))
struct RealMNISTTests {
    @Test func trainingSplit() throws {
        let split = try MNIST.load(split: .train, from: realMNISTDirectory)
        #expect(split.count == 60_000)
        #expect(split.rows == 28 && split.columns == 28)
        #expect(split.images.count == 60_000 * 784)
        #expect(Array(split.labels.prefix(5)) == [5, 0, 4, 1, 9])
        #expect(split.labels.allSatisfy { $0 < 10 })
    }

    @Test func testSplit() throws {
        let split = try MNIST.load(split: .test, from: realMNISTDirectory)
        #expect(split.count == 10_000)
        #expect(Array(split.labels.prefix(5)) == [7, 2, 1, 0, 4])
        #expect(split.images.allSatisfy { (0...1).contains($0) })
    }

    @Test func checksumsMatchSHA256SUMS() throws {
        let sums = try String(contentsOfFile: realMNISTDirectory + "/SHA256SUMS", encoding: .utf8)
        var listed: [String: String] = [:]
        for line in sums.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            try #require(parts.count == 2)
            listed[String(parts[1])] = String(parts[0])
        }
        #expect(listed == MNISTDownloader.knownChecksums)
        // checksumOfFiles hashes a sha256sum-style listing, which is what SHA256SUMS is, so checking
        // it against SHA256SUMS verifies all four files.
        #expect(try MNIST.checksumOfFiles(in: realMNISTDirectory) == SHA256.hexDigest(of: Array(sums.utf8)))
    }
}
