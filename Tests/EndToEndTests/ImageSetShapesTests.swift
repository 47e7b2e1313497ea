import Datasets
import Foundation
import Imaging
import Testing
import TestSupport

/// `vae-eval fid --images` on the shapes and element types numpy and PyTorch write by default, run as a user would:
/// each accepted form of one image set gives exactly the FID of the canonical uint8 (N, 28, 28) file, and each
/// refused input gets one line naming the problem and a non-zero exit.
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct ImageSetShapesTests {
    static let count = 150

    /// A tiny MNIST folder and `count` of its training images as bytes (the set to score).
    struct Fixture {
        let folder = TemporaryFolder()
        var data: String { folder.path + "/mnist" }
        var cache: String { folder.path + "/cache" }
        let pixels: [UInt8]

        init() throws {
            try FileManager.default.createDirectory(atPath: folder.path + "/mnist", withIntermediateDirectories: true)
            try TinyMNIST.write(to: folder.path + "/mnist", trainCount: 200, testCount: 100)
            let train = try IDX.read(contentsOf: folder.path + "/mnist/train-images-idx3-ubyte", dimensionCount: 3)
            pixels = Array(train.values[0..<(ImageSetShapesTests.count * 784)])
        }

        func fid(_ images: String, _ extra: [String] = []) throws -> (CommandResult, [String: Any]?) {
            let result = try Executables.run("vae-eval", ["fid", "--images", images, "--data", data, "--threads", "1",
                                                          "--kid-subsets", "5", "--cache-dir", cache, "--json"] + extra)
            let json = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            return (result, json)
        }
    }

    static func metric(_ json: [String: Any]?, _ key: String) -> Double? {
        (json?["metrics"] as? [String: Any])?[key] as? Double
    }

    @Test func everyAcceptedFormGivesTheCanonicalFID() throws {
        let f = try Fixture()
        let n = Self.count, dir = f.folder.path
        let unit = f.pixels.map { Float($0) / 255 }
        try NPY.write(NPYArray(shape: [n, 28, 28], elements: .uint8(f.pixels)), to: dir + "/canonical.npy")
        let (canonical, canonicalJSON) = try f.fid(dir + "/canonical.npy")
        try #require(canonical.status == 0, "\(canonical.stderr)")
        let expected = try #require(Self.metric(canonicalJSON, "fid"))
        #expect(expected.isFinite && expected > 0)
        #expect(canonical.stderr.contains("notice: 150 images against 100 reference images") == false,
                "a set larger than the reference needs no small-set notice: \(canonical.stderr)")

        let forms: [(String, String)] = [
            ("u8-784.npy", "npy uint8 (150, 784)"), ("u8-nchw.npy", "npy uint8 (150, 1, 28, 28)"),
            ("u8-nhwc.npy", "npy uint8 (150, 28, 28, 1)"), ("f32.npy", "npy float32 (150, 28, 28)"),
            ("f64-784.npy", "npy float64 (150, 784)"), ("f32-nchw.npy", "npy float32 (150, 1, 28, 28)"),
            ("set-idx3-ubyte", "IDX"), ("grey-png", "PNG folder"), ("rgb-png", "PNG folder"),
        ]
        try NPY.write(NPYArray(shape: [n, 784], elements: .uint8(f.pixels)), to: dir + "/u8-784.npy")
        try NPY.write(NPYArray(shape: [n, 1, 28, 28], elements: .uint8(f.pixels)), to: dir + "/u8-nchw.npy")
        try NPY.write(NPYArray(shape: [n, 28, 28, 1], elements: .uint8(f.pixels)), to: dir + "/u8-nhwc.npy")
        try NPY.write(NPYArray(shape: [n, 28, 28], elements: .float32(unit)), to: dir + "/f32.npy")
        try NPY.write(NPYArray(shape: [n, 784], elements: .float64(f.pixels.map { Double($0) / 255 })), to: dir + "/f64-784.npy")
        try NPY.write(NPYArray(shape: [n, 1, 28, 28], elements: .float32(unit)), to: dir + "/f32-nchw.npy")
        try IDX.write(f.pixels, dimensions: [n, 28, 28], to: dir + "/set-idx3-ubyte")
        for folder in ["grey-png", "rgb-png"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + folder, withIntermediateDirectories: true)
        }
        for i in 0..<n {
            let tile = Array(f.pixels[(i * 784)..<((i + 1) * 784)])
            let name = String(format: "%04d.png", i)
            try PNGFile.write(PixelImage(width: 28, height: 28, channels: 1, pixels: tile), to: dir + "/grey-png/" + name)
            // Grey written as RGB (R = G = B): its ITU-R 601 luminance is the grey value exactly.
            try PNGFile.write(PixelImage(width: 28, height: 28, channels: 3, pixels: tile.flatMap { [$0, $0, $0] }),
                              to: dir + "/rgb-png/" + name)
        }
        for (file, format) in forms {
            let (result, json) = try f.fid(dir + "/" + file)
            #expect(result.status == 0, "\(file): \(result.stderr)")
            #expect(Self.metric(json, "fid") == expected, "\(file): FID \(String(describing: Self.metric(json, "fid"))) vs \(expected)")
            #expect(json?["format"] as? String == format, "\(file): \(String(describing: json?["format"]))")
        }
        let (rgb, _) = try f.fid(dir + "/rgb-png")
        #expect(rgb.stderr.contains("notice: 150 colour PNGs converted to luminance"), "\(rgb.stderr)")

        // Against itself as the reference: FID 0 up to the rounding of the square root of a near-singular covariance
        // (150 images, 128 features; 0.0014 measured), and the small-set notice is absent (equal N).
        let (own, ownJSON) = try f.fid(dir + "/canonical.npy", ["--reference", dir + "/f32.npy"])
        #expect(own.status == 0, "\(own.stderr)")
        #expect(abs(Self.metric(ownJSON, "fid") ?? 1) < expected / 10, "own \(own.stdout) vs test set \(expected)")
        #expect(ownJSON?["referenceCount"] as? Int == n && !own.stderr.contains("FID's bias"))
        // Against the training set (200 images here): counted and named.
        let (train, trainJSON) = try f.fid(dir + "/canonical.npy", ["--reference", "train"])
        #expect(train.status == 0 && trainJSON?["reference"] as? String == "MNIST training set", "\(train.stderr)")
        #expect(trainJSON?["referenceCount"] as? Int == 200)
        #expect(train.stderr.contains("notice: 150 images against 200 reference images: FID's bias grows like 1/N"), "\(train.stderr)")
    }

    /// Each refused input: exit code 1 and one line on standard error that names the problem.
    @Test func refusedInputsGetOneLineErrors() throws {
        let f = try Fixture()
        let n = Self.count, dir = f.folder.path
        try NPY.write(NPYArray(shape: [n, 32, 32], elements: .uint8([UInt8](repeating: 0, count: n * 1024))), to: dir + "/wide.npy")
        try NPY.write(NPYArray(shape: [n, 784], elements: .float32(f.pixels.map(Float.init))), to: dir + "/bytes-as-float.npy")
        var nan = f.pixels.map { Double($0) / 255 }
        nan[5] = .nan
        try NPY.write(NPYArray(shape: [n, 784], elements: .float64(nan)), to: dir + "/nan.npy")
        try NPY.write(NPYArray(shape: [50, 28, 28], elements: .uint8(Array(f.pixels[0..<(50 * 784)]))), to: dir + "/few.npy")
        try NPY.write(NPYArray(shape: [n, 3, 28, 28], elements: .uint8([UInt8](repeating: 0, count: n * 3 * 784))), to: dir + "/rgb.npy")
        try NPY.write(NPYArray(shape: [n, 28, 28], elements: .uint8(f.pixels)), to: dir + "/good.npy")
        let cases: [(images: String, extra: [String], message: String)] = [
            ("wide.npy", [], "shape [150, 32, 32], want (N, 28, 28), (N, 1, 28, 28), (N, 28, 28, 1) or (N, 784)"),
            ("rgb.npy", [], "shape [150, 3, 28, 28]"),
            ("bytes-as-float.npy", [], "is outside [0, 1] (float images must be pixels / 255)"),
            ("nan.npy", [], "float64 value nan at index 5 is outside [0, 1]"),
            ("few.npy", [], "it holds 50 images; at least 129 are needed"),
            ("missing.npy", [], "no such file or folder"),
            ("good.npy", ["--reference", dir + "/absent.npy"], "absent.npy as an image set: no such file or folder"),
        ]
        for c in cases {
            let (result, _) = try f.fid(dir + "/" + c.images, c.extra)
            #expect(result.status != 0, "\(c.images) was accepted")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(c.images): \(result.stderr)")
            #expect(result.stderr.contains(c.message), "\(c.images): \(result.stderr)")
        }
    }

    /// `vae-eval reconstruction`: all-black reconstructions of the test set score mean(x^2); a wrong count and a
    /// wrong order (with --originals) are one-line errors.
    @Test func outsideReconstructionsAreScored() throws {
        let f = try Fixture()
        let dir = f.folder.path
        let test = try IDX.read(contentsOf: f.data + "/t10k-images-idx3-ubyte", dimensionCount: 3)
        let n = test.dimensions[0]
        try NPY.write(NPYArray(shape: [n, 1, 28, 28], elements: .float32([Float](repeating: 0, count: n * 784))), to: dir + "/black.npy")
        try NPY.write(NPYArray(shape: [n, 28, 28], elements: .uint8(test.values)), to: dir + "/originals.npy")
        var reordered = test.values
        reordered.replaceSubrange(0..<784, with: test.values[784..<1568])
        reordered.replaceSubrange(784..<1568, with: test.values[0..<784])
        try NPY.write(NPYArray(shape: [n, 28, 28], elements: .uint8(reordered)), to: dir + "/reordered.npy")
        try NPY.write(NPYArray(shape: [n - 1, 784], elements: .uint8(Array(test.values[784...]))), to: dir + "/short.npy")
        func run(_ arguments: [String]) throws -> CommandResult {
            try Executables.run("vae-eval", ["reconstruction", "--data", f.data, "--json"] + arguments)
        }
        let black = try run(["--images", dir + "/black.npy", "--originals", dir + "/originals.npy"])
        try #require(black.status == 0, "\(black.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(black.stdout.utf8)) as? [String: Any]
        let expected = test.values.map { Double(Float($0) / 255) * Double(Float($0) / 255) }.reduce(0, +) / Double(n * 784)
        let mse = try #require(json?["meanSquaredError"] as? Double)
        #expect(abs(mse - expected) <= 1e-12 * expected && json?["orderChecked"] as? Bool == true, "\(black.stdout)")
        for (arguments, message) in [
            (["--images", dir + "/short.npy"], "it holds 99 images, the MNIST test set 100"),
            (["--images", dir + "/black.npy", "--originals", dir + "/reordered.npy"], "its image 0 is test image 1"),
        ] {
            let result = try run(arguments)
            #expect(result.status != 0 && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
    }

    /// `.npz` image files (one array, or `--key`), pytorch-fid statistics written with `--save-stats` and read as
    /// `--reference`: the FID against a set's statistics equals the FID against the set, and pytorch-fid's own
    /// `calculate_frechet_distance` gives the same value from the two statistics files (scripts/torch-python, which
    /// CI installs with `scripts/install-deps --torch`).
    @Test func npzSetsAndFIDStatistics() throws {
        let f = try Fixture()
        let n = Self.count, dir = f.folder.path
        let other = f.pixels.map { $0 / 2 }
        try NPY.write(NPYArray(shape: [n, 28, 28], elements: .uint8(f.pixels)), to: dir + "/canonical.npy")
        try NPZ.write(["x": NPYArray(shape: [n, 28, 28], elements: .uint8(f.pixels))], to: dir + "/one.npz")
        try NPZ.write(["a": NPYArray(shape: [n, 784], elements: .uint8(f.pixels)),
                       "b": NPYArray(shape: [n, 784], elements: .uint8(other))], to: dir + "/two.npz")
        let (canonical, canonicalJSON) = try f.fid(dir + "/canonical.npy", ["--save-stats", dir + "/canonical-stats.npz"])
        try #require(canonical.status == 0, "\(canonical.stderr)")
        let (one, oneJSON) = try f.fid(dir + "/one.npz")
        #expect(one.status == 0 && oneJSON?["fid"] as? Double == canonicalJSON?["fid"] as? Double, "\(one.stderr)")
        #expect(oneJSON?["format"] as? String == "npz 'x' uint8 (150, 28, 28)")
        let (two, _) = try f.fid(dir + "/two.npz")
        #expect(two.status != 0 && two.stderr.contains("it holds 2 arrays (a, b); choose one with --key"), "\(two.stderr)")
        let (b, bJSON) = try f.fid(dir + "/two.npz", ["--key", "b", "--save-stats", dir + "/b-stats.npz"])
        try #require(b.status == 0, "\(b.stderr)")

        // b against canonical's images and against canonical's statistics: the same FID.
        let (images, imagesJSON) = try f.fid(dir + "/two.npz", ["--key", "b", "--reference", dir + "/canonical.npy"])
        let (stats, statsJSON) = try f.fid(dir + "/two.npz", ["--key", "b", "--reference", dir + "/canonical-stats.npz"])
        #expect(images.status == 0 && stats.status == 0, "\(images.stderr) \(stats.stderr)")
        let viaImages = try #require(imagesJSON?["fid"] as? Double), viaStats = try #require(statsJSON?["fid"] as? Double)
        #expect(abs(viaImages - viaStats) <= 1e-9 * viaImages && viaImages > 0, "\(viaImages) vs \(viaStats)")
        #expect(statsJSON?["metrics"] == nil && statsJSON?["referenceCount"] == nil)
        #expect(stats.stderr.contains("only the FID is computed"), "\(stats.stderr)")
        #expect(bJSON?["fid"] as? Double != nil)

        // pytorch-fid's formula on the files we wrote.
        let script = "import sys, numpy as np; from pytorch_fid.fid_score import calculate_frechet_distance as f; "
            + "a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); print(repr(float(f(a['mu'], a['sigma'], b['mu'], b['sigma']))))"
        let python = try Executables.run(at: Programs.repositoryRoot + "/scripts/torch-python",
                                         ["-c", script, dir + "/b-stats.npz", dir + "/canonical-stats.npz"])
        try #require(python.status == 0, "\(python.stderr)")
        let theirs = try #require(Double(python.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        // scipy.linalg.sqrtm against our eigendecomposition: 1.4e-6 relative measured.
        #expect(abs(theirs - viaStats) <= 1e-5 * theirs, "pytorch-fid \(theirs), ours \(viaStats)")
        // Statistics of another dimension are refused in one line.
        try NPZ.write(["mu": NPYArray(shape: [3], elements: .float64([0, 0, 0])),
                       "sigma": NPYArray(shape: [3, 3], elements: .float64([1, 0, 0, 0, 1, 0, 0, 0, 1]))], to: dir + "/small-stats.npz")
        let (wrong, _) = try f.fid(dir + "/canonical.npy", ["--reference", dir + "/small-stats.npz"])
        #expect(wrong.status != 0 && wrong.stderr.contains("holds 3-d statistics; the feature network gives 128-d"), "\(wrong.stderr)")
    }
}
