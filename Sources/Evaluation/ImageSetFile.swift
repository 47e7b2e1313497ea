import Datasets
import Foundation
import Imaging

/// A set of 28 x 28 grayscale images from outside the toolkit, for `vae-eval fid --images`.
public struct ImageSet {
    /// Row-major [count, 784], pixels in [0, 1] (bytes are divided by 255).
    public let images: [Float]
    public let count: Int
    /// What the file was read as: "IDX", "npy uint8", "npy float32", "PNG folder".
    public let format: String
}

/// Reading and writing image sets: IDX (uint8 N x 28 x 28, optionally gzip-compressed), `.npy` (uint8 or
/// float32 N x 28 x 28; float values must already be in [0, 1]) and folders of 28 x 28 grayscale PNGs
/// (every `*.png` in the folder, in name order).
public enum ImageSetFile {
    public static let side = 28

    /// Loads `path`: a folder is read as PNGs; a file starting with the `.npy` magic as `.npy`; anything
    /// else as IDX. Throws a one-line error naming the file when it is not N x 28 x 28 images.
    public static func load(_ path: String) throws -> ImageSet {
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
            throw EvaluationError.badImageSet(path: path, reason: "cannot read it (\(error.localizedDescription))")
        }
        if NPY.hasMagic(head) { return try loadNPY(path) }
        return try loadIDX(path)
    }

    static func checkShape(_ shape: [Int], path: String) throws -> Int {
        guard shape.count == 3, shape[1] == side, shape[2] == side else {
            throw EvaluationError.badImageSet(path: path, reason: "shape \(shape), want N x 28 x 28")
        }
        guard shape[0] >= 2 else { throw EvaluationError.badImageSet(path: path, reason: "it holds \(shape[0]) images, at least 2 are needed") }
        return shape[0]
    }

    static func loadIDX(_ path: String) throws -> ImageSet {
        let array = try IDX.read(contentsOf: path, dimensionCount: 3)
        let count = try checkShape(array.dimensions, path: path)
        return ImageSet(images: unitFloats(array.values), count: count, format: "IDX")
    }

    static func loadNPY(_ path: String) throws -> ImageSet {
        let array = try NPY.read(contentsOf: path)
        let count = try checkShape(array.shape, path: path)
        switch array.elements {
        case .uint8(let bytes):
            return ImageSet(images: unitFloats(bytes), count: count, format: "npy uint8")
        case .float32(let values):
            return try unitImages(values, count: count, type: "float32", path: path)
        case .float64(let values):
            return try unitImages(values.map { Float($0) }, count: count, type: "float64", path: path)
        }
    }

    /// Float images, which must already be pixels / 255.
    private static func unitImages(_ values: [Float], count: Int, type: String, path: String) throws -> ImageSet {
        if let index = values.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
            throw EvaluationError.badImageSet(path: path, reason: "\(type) value \(values[index]) at index \(index) is outside [0, 1] (float images must be pixels / 255)")
        }
        return ImageSet(images: values, count: count, format: "npy \(type)")
    }

    static func loadPNGFolder(_ path: String) throws -> ImageSet {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.lowercased().hasSuffix(".png") }.sorted()
        } catch {
            throw EvaluationError.badImageSet(path: path, reason: "cannot list the folder (\(error.localizedDescription))")
        }
        guard names.count >= 2 else {
            throw EvaluationError.badImageSet(path: path, reason: "the folder holds \(names.count) .png files, at least 2 are needed")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(names.count * side * side)
        for name in names {
            let file = path + "/" + name
            let image = try PNGFile.read(contentsOf: file)
            guard image.width == side, image.height == side, image.channels == 1 else {
                throw EvaluationError.badImageSet(path: file, reason: "\(image.width)x\(image.height) with \(image.channels) channels, want a 28x28 grayscale PNG")
            }
            bytes += image.pixels
        }
        return ImageSet(images: unitFloats(bytes), count: names.count, format: "PNG folder")
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

    /// Writes [count, 784] images in [0, 1] as uint8 N x 28 x 28: IDX when the file name ends in
    /// `-idx3-ubyte` (or `-idx3-ubyte.gz`, compressed), `.npy` otherwise. Atomic either way.
    public static func write(_ images: [Float], count: Int, to path: String) throws {
        precondition(images.count == count * side * side, "ImageSetFile.write: \(images.count) values for \(count) images")
        let pixels = bytes(images)
        if path.hasSuffix("-idx3-ubyte") || path.hasSuffix("-idx3-ubyte.gz") {
            try IDX.write(pixels, dimensions: [count, side, side], to: path)
        } else {
            try NPY.write(NPYArray(shape: [count, side, side], elements: .uint8(pixels)), to: path)
        }
    }
}
