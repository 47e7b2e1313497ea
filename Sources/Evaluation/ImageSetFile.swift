import Datasets
import Foundation
import Imaging
import Storage

/// A set of 28 x 28 grayscale images from outside the toolkit, for `vae-eval fid --images`.
public struct ImageSet {
    /// Row-major [count, 784], pixels in [0, 1] (bytes are divided by 255).
    public let images: [Float]
    public let count: Int
    /// What the file was read as, e.g. "IDX", "npy uint8 (N, 28, 28)", "npy float64 (N, 784)", "PNG folder".
    public let format: String
    /// Conversions the reader made that the user should know of (one line each), e.g. RGB to luminance.
    public var notices: [String] = []

    /// `images.count` must be `count * 784`.
    public init(images: [Float], count: Int, format: String, notices: [String] = []) {
        precondition(images.count == count * ImageSetFile.side * ImageSetFile.side,
                     "ImageSet: \(images.count) values for \(count) images")
        self.images = images; self.count = count; self.format = format; self.notices = notices
    }
}

/// Reading and writing image sets: IDX (uint8 N x 28 x 28, optionally gzip-compressed), `.npy` or one array of an
/// `.npz` (uint8, or float32/float64 already in [0, 1]; shaped (N, 28, 28), (N, 1, 28, 28), (N, 28, 28, 1) or
/// (N, 784), C order)
/// and folders of 28 x 28 PNGs (every `*.png` in the folder, in name order; RGB and RGBA converted to luminance).
public enum ImageSetFile {
    public static let side = 28

    /// Loads `path`: a folder is read as PNGs; a file starting with the `.npy` magic as `.npy`; anything
    /// else as IDX. Throws a one-line error naming the file when it is not a set of 28 x 28 images.
    public static func load(_ path: String, key: String? = nil) throws -> ImageSet {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw EvaluationError.badImageSet(path: path, reason: "no such file or folder")
        }
        if isDirectory.boolValue { return try loadPNGFolder(path) }
        let head: [UInt8]
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            head = [UInt8](handle.readData(ofLength: 6))
            try? handle.close()
        } catch {
            throw EvaluationError.badImageSet(path: path, reason: "cannot read it (\(FileError.reason(of: error)))")
        }
        if NPY.hasMagic(head) { return try images(of: try NPY.read(contentsOf: path), path: path, format: "npy") }
        if ZipArchive.hasMagic(head) { return try loadNPZ(path, key: key) }
        return try loadIDX(path)
    }

    /// The number of images of an array shaped like a batch of 28 x 28 grey images: (N, 28, 28), (N, 1, 28, 28),
    /// (N, 28, 28, 1) or (N, 784) -- the shapes numpy, PyTorch and Keras give by default. Throws otherwise.
    static func imageCount(_ shape: [Int], path: String) throws -> Int {
        let accepted = [[side, side], [1, side, side], [side, side, 1], [side * side]]
        guard let n = shape.first, accepted.contains(Array(shape.dropFirst())) else {
            throw EvaluationError.badImageSet(path: path, reason: "shape \(shape), want (N, 28, 28), (N, 1, 28, 28), (N, 28, 28, 1) or (N, 784)")
        }
        guard n >= 2 else { throw EvaluationError.badImageSet(path: path, reason: "it holds \(n) images, at least 2 are needed") }
        return n
    }

    static func loadIDX(_ path: String) throws -> ImageSet {
        let array = try IDX.read(contentsOf: path, dimensionCount: 3)
        let count = try imageCount(array.dimensions, path: path)
        return ImageSet(images: unitFloats(array.values), count: count, format: "IDX")
    }

    /// The images of one array of a `.npz`: the array named `key`, or its only array.
    static func loadNPZ(_ path: String, key: String?) throws -> ImageSet {
        let arrays = try NPZ.read(contentsOf: path)
        let names = arrays.keys.sorted()
        if let key {
            guard let array = arrays[key] else {
                throw EvaluationError.badImageSet(path: path, reason: "it has no array '\(key)' (it has \(names.joined(separator: ", ")))")
            }
            return try images(of: array, path: path, format: "npz '\(key)'")
        }
        guard names.count == 1 else {
            let hint = Set(names) == ["mu", "sigma"] ? " (these are FID statistics: pass them as --reference)" : ""
            throw EvaluationError.badImageSet(path: path, reason: "it holds \(names.count) arrays (\(names.joined(separator: ", "))); "
                + "choose one with --key\(hint)")
        }
        return try images(of: arrays[names[0]]!, path: path, format: "npz '\(names[0])'")
    }

    /// The images of a `.npy` array (or one array of a `.npz`): uint8 pixels are divided by 255; float32 and
    /// float64 values must already be in [0, 1] (float64 is rounded to the nearest float32).
    public static func images(of array: NPYArray, path: String, format: String) throws -> ImageSet {
        let count = try imageCount(array.shape, path: path)
        let shape = "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        func checkRange<T: BinaryFloatingPoint>(_ values: [T], _ type: String) throws {
            if let index = values.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
                throw EvaluationError.badImageSet(path: path, reason: "\(type) value \(values[index]) at index \(index) is outside [0, 1] (float images must be pixels / 255)")
            }
        }
        switch array.elements {
        case .uint8(let bytes):
            return ImageSet(images: unitFloats(bytes), count: count, format: "\(format) uint8 \(shape)")
        case .float32(let values):
            try checkRange(values, "float32")
            return ImageSet(images: values, count: count, format: "\(format) float32 \(shape)")
        case .float64(let values):
            try checkRange(values, "float64")
            return ImageSet(images: values.map { Float($0) }, count: count, format: "\(format) float64 \(shape)")
        }
    }

    static func loadPNGFolder(_ path: String) throws -> ImageSet {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.lowercased().hasSuffix(".png") }.sorted()
        } catch {
            throw EvaluationError.badImageSet(path: path, reason: "cannot list the folder (\(FileError.reason(of: error)))")
        }
        guard names.count >= 2 else {
            throw EvaluationError.badImageSet(path: path, reason: "the folder holds \(names.count) .png files, at least 2 are needed")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(names.count * side * side)
        var converted = 0
        for name in names {
            let file = path + "/" + name
            let image = try PNGFile.read(contentsOf: file)
            guard image.width == side, image.height == side else {
                throw EvaluationError.badImageSet(path: file, reason: "\(image.width)x\(image.height), want a 28x28 PNG")
            }
            if image.channels == 1 {
                bytes += image.pixels
            } else {
                bytes += luminance(image)
                converted += 1
            }
        }
        var set = ImageSet(images: unitFloats(bytes), count: names.count, format: "PNG folder")
        if converted > 0 {
            set.notices.append("notice: \(converted) colour PNG\(converted == 1 ? "" : "s") converted to luminance "
                + "(ITU-R 601-2: L = 0.299 R + 0.587 G + 0.114 B, as PIL's convert('L'); alpha ignored)")
        }
        return set
    }

    /// ITU-R 601-2 luma of an RGB or RGBA image, in PIL's fixed-point form (`convert("L")`):
    /// L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. Alpha is ignored, as PIL does.
    static func luminance(_ image: PixelImage) -> [UInt8] {
        precondition(image.channels >= 3, "luminance: \(image.channels) channels")
        let c = image.channels
        return (0..<(image.width * image.height)).map { i in
            let r = UInt32(image.pixels[i * c]), g = UInt32(image.pixels[i * c + 1]), b = UInt32(image.pixels[i * c + 2])
            return UInt8((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16)
        }
    }

    /// byte / 255, exactly as `MNIST.load` scales pixels.
    static func unitFloats(_ bytes: [UInt8]) -> [Float] {
        let table = (0...255).map { Float($0) / 255 }
        return bytes.map { table[Int($0)] }
    }

    /// Pixels in [0, 1] to bytes: round(255 p), clamped.
    public static func bytes(_ images: [Float]) -> [UInt8] {
        images.map { UInt8((max(0, min(1, $0)) * 255).rounded()) }
    }

    /// What `write` makes of a file name.
    public enum OutputFormat: String, Equatable, Sendable {
        case npy, idx, idxGzip, pngGrid

        /// The format of `path` by its ending: `.npy`; `idx3-ubyte` or `.idx` (IDX), with `.gz` compressed; `.png` (a
        /// grid of the images). Anything else is refused.
        public static func of(_ path: String) throws -> OutputFormat {
            let name = URL(fileURLWithPath: path).lastPathComponent.lowercased()
            if name.hasSuffix(".npy") { return .npy }
            if name.hasSuffix("idx3-ubyte") || name.hasSuffix(".idx") { return .idx }
            if name.hasSuffix("idx3-ubyte.gz") || name.hasSuffix(".idx.gz") { return .idxGzip }
            if name.hasSuffix(".png") { return .pngGrid }
            throw EvaluationError.invalidSetting("\(path) has an unknown file type; end its name in .npy, -idx3-ubyte "
                                                 + "or .idx (IDX, add .gz to compress) or .png (a grid of the images)")
        }
    }

    /// Writes [count, 784] images in [0, 1] by the file name's ending (`OutputFormat.of`): uint8 N x 28 x 28 as `.npy`
    /// or IDX, or a PNG grid of ceil(sqrt(N)) columns (8-bit gray, unfilled tiles black). Atomic either way.
    public static func write(_ images: [Float], count: Int, to path: String, text: [String: String] = [:]) throws {
        precondition(images.count == count * side * side, "ImageSetFile.write: \(images.count) values for \(count) images")
        let format = try OutputFormat.of(path)
        switch format {
        case .idx, .idxGzip:
            try IDX.write(bytes(images), dimensions: [count, side, side], to: path)
        case .npy:
            try NPY.write(NPYArray(shape: [count, side, side], elements: .uint8(bytes(images))), to: path)
        case .pngGrid:
            let columns = Int(Double(count).squareRoot().rounded(.up))
            let rows = (count + columns - 1) / columns
            let tiles = images + [Float](repeating: 0, count: (rows * columns - count) * side * side)
            let grid = ImageGrid(rows: rows, columns: columns, tileWidth: side, tileHeight: side, scale: 1)
            try PNGFile.write(grid.render(tiles: tiles), to: path, text: text)
        }
    }
}
