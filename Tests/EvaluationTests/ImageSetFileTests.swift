import Autodiff
import Datasets
import Evaluation
import Foundation
import Imaging
import Models
import Testing
import TestSupport

/// The strict .npy reader/writer, and the image sets `vae-eval fid --images` reads.
@Suite struct NPYTests {
    @Test func uint8RoundTrip() throws {
        let array = NPYArray(shape: [3, 28, 28], elements: .uint8((0..<(3 * 784)).map { UInt8($0 % 256) }))
        let bytes = NPY.encode(array)
        #expect(Array(bytes[0..<8]) == NPY.magic + [1, 0])
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0 && bytes[10 + headerLength - 1] == 0x0A)
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '|u1', 'fortran_order': False, 'shape': (3, 28, 28), }"))
        #expect(try NPY.decode(bytes, source: "x") == array)
    }

    @Test func float32RoundTripThroughAFile() throws {
        let path = NSTemporaryDirectory() + "npy-" + UUID().uuidString + ".npy"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let array = NPYArray(shape: [2, 3], elements: .float32([0, 0.5, 1, -2.25, .greatestFiniteMagnitude, 1e-30]))
        try NPY.write(array, to: path)
        #expect(try NPY.read(contentsOf: path) == array)
        let vector = NPYArray(shape: [4], elements: .uint8([1, 2, 3, 4]))
        #expect(try NPY.decode(NPY.encode(vector), source: "v") == vector)
    }

    /// Headers as numpy writes them: keys in any order, version 2.0, 1-tuples, no trailing comma.
    @Test func acceptsNumpyVariants() throws {
        func file(_ header: String, version: UInt8 = 1, payload: [UInt8]) -> [UInt8] {
            var text = header
            let preamble = version == 1 ? 10 : 12
            while (preamble + text.utf8.count + 1) % 64 != 0 { text += " " }
            text += "\n"
            let n = text.utf8.count
            let length: [UInt8] = version == 1 ? [UInt8(n & 0xff), UInt8(n >> 8)] : [UInt8(n & 0xff), UInt8(n >> 8), 0, 0]
            return NPY.magic + [version, 0] + length + Array(text.utf8) + payload
        }
        let a = try NPY.decode(file("{'shape': (2,), 'fortran_order': False, 'descr': '|u1'}", payload: [7, 8]), source: "a")
        #expect(a == NPYArray(shape: [2], elements: .uint8([7, 8])))
        let b = try NPY.decode(file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", version: 2,
                                    payload: [0, 0, 0x80, 0x3F]), source: "b")
        #expect(b == NPYArray(shape: [1, 1], elements: .float32([1])))
    }

    @Test(arguments: [
        ("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", "'<i8'"),
        ("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "'>f4'"),
        ("{'descr': '|u1', 'fortran_order': True, 'shape': (1,), }", "fortran_order"),
        ("{'descr': '|u1', 'fortran_order': False, 'shape': (-1,), }", "shape"),
        ("{'descr': '|u1', 'fortran_order': False, 'shape': (1, x), }", "shape"),
        ("{'descr': '|u1', 'fortran_order': False}", "no 'shape'"),
        ("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected header key"),
        ("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), } junk", "trailing text"),
        ("{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }", "needs 5 data bytes"),
    ])
    func rejectsMalformedHeaders(header: String, message: String) {
        var text = header
        while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
        text += "\n"
        let bytes = NPY.magic + [1, 0, UInt8(text.utf8.count), 0] + Array(text.utf8) + [42]
        do {
            _ = try NPY.decode(bytes, source: "bad.npy")
            Issue.record("accepted: \(header)")
        } catch let error as NPYError {
            #expect(error.description.contains("bad.npy") && error.description.contains(message), "\(error)")
            #expect(!error.description.contains("\n"))
        } catch { Issue.record("unexpected error \(error)") }
    }

    @Test func rejectsBadPreambles() {
        let good = NPY.encode(NPYArray(shape: [1], elements: .uint8([1])))
        var badMagic = good; badMagic[1] = 0x4F
        var badVersion = good; badVersion[6] = 4
        var longHeader = good; longHeader[9] = 0x7F
        let trailing = good + [0]
        for (bytes, message) in [(badMagic, "magic"), (badVersion, "version 4.0"), (longHeader, "header claims"),
                                 (trailing, "needs 1 data bytes"), (Array(good[0..<9]), "preamble")] {
            let error = catchNPY(bytes)
            #expect(error?.reason.contains(message) == true, "\(String(describing: error))")
        }
    }

    func catchNPY(_ bytes: [UInt8]) -> NPYError? {
        do { _ = try NPY.decode(bytes, source: "p"); return nil } catch { return error as? NPYError }
    }
}

@Suite struct ImageSetFileTests {
    static func temporaryFolder() throws -> String {
        let folder = NSTemporaryDirectory() + "imageset-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    static let pixels: [UInt8] = (0..<(4 * 784)).map { UInt8(($0 * 7) % 256) }

    @Test func readsIDXPlainAndCompressed() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["set-idx3-ubyte", "set-idx3-ubyte.gz"] {
            try IDX.write(Self.pixels, dimensions: [4, 28, 28], to: folder + "/" + name)
            let set = try ImageSetFile.load(folder + "/" + name)
            #expect(set.count == 4 && set.format == "IDX")
            #expect(set.images == Self.pixels.map { Float($0) / 255 })
        }
    }

    @Test func readsNPYAndWritesBothFormats() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let images = Self.pixels.map { Float($0) / 255 }
        try ImageSetFile.write(images, count: 4, to: folder + "/s.npy")
        let npy = try ImageSetFile.load(folder + "/s.npy")
        #expect(npy.format == "npy uint8 (4, 28, 28)" && npy.images == images)
        try ImageSetFile.write(images, count: 4, to: folder + "/s-idx3-ubyte")
        #expect(try IDX.read(contentsOf: folder + "/s-idx3-ubyte", dimensionCount: 3).values == Self.pixels)
        try NPY.write(NPYArray(shape: [4, 28, 28], elements: .float32(images)), to: folder + "/f.npy")
        #expect(try ImageSetFile.load(folder + "/f.npy").format == "npy float32 (4, 28, 28)")
    }

    @Test func readsAFolderOfPNGsInNameOrder() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for i in 0..<4 {
            let tile = Array(Self.pixels[(i * 784)..<((i + 1) * 784)])
            try PNGFile.write(PixelImage(width: 28, height: 28, channels: 1, pixels: tile), to: folder + "/img\(i).png")
        }
        try Data("ignored".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
        let set = try ImageSetFile.load(folder)
        #expect(set.count == 4 && set.format == "PNG folder")
        #expect(set.images == Self.pixels.map { Float($0) / 255 })
        try PNGFile.write(PixelImage(width: 32, height: 28, channels: 1), to: folder + "/wide.png")
        #expect(throws: EvaluationError.self) { try ImageSetFile.load(folder) }
    }

    /// Colour PNGs become ITU-R 601-2 luminance as PIL's convert("L") computes it (PIL 9.4 gives 76, 150 and 29 for
    /// pure red, green and blue; checked against Pillow on 784 random pixels, no mismatch); alpha is ignored.
    @Test func colourPNGsBecomeLuminance() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let colours: [[UInt8]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255, 7], [200, 100, 50]]
        for (i, c) in colours.enumerated() {
            let image = PixelImage(width: 28, height: 28, channels: c.count, pixels: Array((0..<784).map { _ in c }.joined()))
            try PNGFile.write(image, to: folder + "/c\(i).png")
        }
        let set = try ImageSetFile.load(folder)
        let expected: [UInt8] = [76, 150, 29, 124]   // (19595 R + 38470 G + 7471 B + 2^15) >> 16
        #expect(set.images == expected.flatMap { [Float](repeating: Float($0) / 255, count: 784) })
        #expect(set.notices == ["notice: 4 colour PNGs converted to luminance (ITU-R 601-2: L = 0.299 R + 0.587 G + 0.114 B, as PIL's convert('L'); alpha ignored)"])
    }

    @Test func rejectsWrongShapesAndRanges() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try NPY.write(NPYArray(shape: [2, 32, 32], elements: .uint8([UInt8](repeating: 0, count: 2048))), to: folder + "/big.npy")
        try NPY.write(NPYArray(shape: [2, 28, 28], elements: .float32([Float](repeating: 255, count: 1568))), to: folder + "/range.npy")
        for (name, message) in [("big.npy", "want (N, 28, 28), (N, 1, 28, 28), (N, 28, 28, 1) or (N, 784)"), ("range.npy", "outside [0, 1]"), ("missing", "no such file")] {
            do {
                _ = try ImageSetFile.load(folder + "/" + name)
                Issue.record("\(name) accepted")
            } catch let error as EvaluationError {
                #expect(error.description.contains(message), "\(error)")
            }
        }
    }
}

/// `vae-eval reconstruction`: the test MSE of reconstructions made outside the toolkit.
@Suite struct OutsideReconstructionTests {
    static func split(_ count: Int, seed: UInt64) -> MNISTSplit {
        var g = SeededGenerator(seed: seed)
        let images = (0..<(count * 784)).map { _ in Float(Int(g.nextUniform() * 256) % 256) / 255 }
        return MNISTSplit(images: images, labels: [UInt8](repeating: 0, count: count), rows: 28, columns: 28)
    }

    /// A model's own reconstructions, scored as an outside file would be, give exactly its evaluator's MSE
    /// (the same definition, order and precision), for an MLP and the conv VAE.
    @Test(arguments: ["vae_std_z20", "vae_conv"])
    func ourReconstructionsGiveOurMSE(run: String) throws {
        var g = SeededGenerator(seed: 4)
        let model = try ModelFactory.make(try ShippedStudy.configuration(run), generator: &g)
        let test = Self.split(40, seed: 8)
        let reconstructions = model.reconstruct(Tensor(shape: [40, 784], data: test.images)).data
        var noise = SeededGenerator(seed: 1)
        // One batch, so the model's products have the same shapes as in `reconstruct` above (under Haswell kernels a
        // product's rows depend on its row count); the squared errors are added in one running sum either way.
        let ours = ReconstructionMetrics.measure(model, on: test, batchSize: 500, generator: &noise)
        let set = ImageSet(images: reconstructions, count: 40, format: "npy float32")
        let outside = try ReconstructionMetrics.scoreOutside(set, path: "r.npy", test: test)
        #expect(outside.meanSquaredError == ours.meanSquaredError && outside.imageCount == 40 && !outside.orderChecked)
        // An independent sum in Double over the Float differences.
        let direct = zip(test.images, reconstructions).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / Double(40 * 784)
        #expect(abs(outside.meanSquaredError - direct) <= 1e-12 * direct)
    }

    @Test func countAndOrderAreChecked() throws {
        let test = Self.split(30, seed: 2)
        let good = ImageSet(images: test.images, count: 30, format: "npy uint8")
        #expect(try ReconstructionMetrics.scoreOutside(good, path: "r", test: test, originals: (good, "o")).meanSquaredError == 0)
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "accepted" } catch { return "\(error)" }
        }
        let short = ImageSet(images: Array(test.images[0..<(29 * 784)]), count: 29, format: "npy uint8")
        #expect(message { _ = try ReconstructionMetrics.scoreOutside(short, path: "r.npy", test: test) }
            .contains("r.npy as an image set: it holds 29 images, the MNIST test set 30"))
        var swapped = test.images
        swapped.replaceSubrange((3 * 784)..<(4 * 784), with: test.images[(7 * 784)..<(8 * 784)])
        swapped.replaceSubrange((7 * 784)..<(8 * 784), with: test.images[(3 * 784)..<(4 * 784)])
        let reordered = ImageSet(images: swapped, count: 30, format: "npy uint8")
        #expect(message { _ = try ReconstructionMetrics.scoreOutside(good, path: "r", test: test, originals: (reordered, "o.npy")) }
            .contains("o.npy as an image set: its image 3 is test image 7: the reconstructions must follow"))
        var foreign = test.images
        for i in 0..<784 { foreign[5 * 784 + i] = 1 - foreign[5 * 784 + i] }
        let other = ImageSet(images: foreign, count: 30, format: "npy uint8")
        #expect(message { _ = try ReconstructionMetrics.scoreOutside(good, path: "r", test: test, originals: (other, "o.npy")) }
            .contains("its image 5 is not an MNIST test image"))
    }
}
