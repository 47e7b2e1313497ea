import Foundation
import Storage

/// One split of MNIST (or of any IDX image/label pair) ready for training.
public struct MNISTSplit: Sendable {
    /// `count * rows * columns` pixel intensities in [0, 1] (`pixel / 255`), image after image,
    /// each row-major.
    public let images: [Float]
    /// `count` class labels (0...9 for MNIST).
    public let labels: [UInt8]
    /// The number of examples.
    public let count: Int
    /// The height of each image (28 for MNIST).
    public let rows: Int
    /// The width of each image (28 for MNIST).
    public let columns: Int

    /// The number of values per image, `rows * columns`.
    public var pixelsPerImage: Int { rows * columns }

    /// Creates a split; `images.count` must be `labels.count * rows * columns`.
    public init(images: [Float], labels: [UInt8], rows: Int, columns: Int) {
        precondition(rows >= 0 && columns >= 0 && images.count == labels.count * rows * columns,
                     "MNISTSplit: \(images.count) pixels do not make \(labels.count) images of \(rows)x\(columns)")
        self.images = images
        self.labels = labels
        self.count = labels.count
        self.rows = rows
        self.columns = columns
    }
}

/// Locating, verifying and loading the MNIST files.
public enum MNIST {
    /// A part of the dataset: 60,000 training or 10,000 test examples.
    public enum Split: String, CaseIterable, Sendable {
        case train
        case test

        /// The names of the split's compressed image and label files.
        public var fileNames: (images: String, labels: String) {
            switch self {
            case .train: return ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
            case .test: return ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
            }
        }
    }

    /// The four files of the distribution, as published (gzip-compressed).
    public static let fileNames: [String] = [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
    ]

    /// Loads one split from `directory`.
    ///
    /// Each file may be present as published (`.gz`) or already decompressed (the same name without
    /// `.gz`); the compressed one is used when both are there.
    /// - Throws: `DatasetError` if a file is missing or damaged, or if the images and labels counts
    ///   differ.
    public static func load(split: Split, from directory: String) throws -> MNISTSplit {
        let imagesPath = try locate(split.fileNames.images, in: directory)
        let labelsPath = try locate(split.fileNames.labels, in: directory)
        let images = try IDX.read(contentsOf: imagesPath, dimensionCount: 3)
        let labels = try IDX.read(contentsOf: labelsPath, dimensionCount: 1)
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DatasetError.countMismatch(imagesPath: imagesPath, images: images.dimensions[0],
                                             labelsPath: labelsPath, labels: labels.dimensions[0])
        }
        return MNISTSplit(images: normalized(images.values), labels: labels.values,
                          rows: images.dimensions[1], columns: images.dimensions[2])
    }

    /// The path of `name` (a `.gz` name) in `directory`, or of its decompressed form.
    ///
    /// - Throws: `DatasetError.missingFile` if neither exists.
    public static func locate(_ name: String, in directory: String) throws -> String {
        let compressed = join(directory, name)
        if FileManager.default.fileExists(atPath: compressed) { return compressed }
        if name.hasSuffix(".gz") {
            let plain = String(compressed.dropLast(3))
            if FileManager.default.fileExists(atPath: plain) { return plain }
        }
        throw DatasetError.missingFile(directory: directory, name: name)
    }

    /// The folder to read MNIST from.
    ///
    /// In order of precedence: `explicit` (from `--data DIR`), then `$MNIST_DIR`, then `data/mnist` in
    /// the repository that contains `currentDirectory` (the nearest enclosing folder with a
    /// `Package.swift`), then `data/mnist` under `currentDirectory`. Explicit and environment paths are
    /// returned as given.
    public static func resolveDataDirectory(
        explicit: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String
    ) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = environment["MNIST_DIR"], !fromEnvironment.isEmpty { return fromEnvironment }
        if let root = ProjectFolder.root(from: currentDirectory) { return root + "/data/mnist" }
        return join(currentDirectory, "data/mnist")
    }

    /// A SHA-256 identifying the data in `directory`, for recording in checkpoints.
    ///
    /// It is the SHA-256 of a `sha256sum`-style listing (`<hex>  <name>\n`, sorted by name) of the
    /// four files as found by `locate` (so for the published `.gz` files it equals the SHA-256 of the
    /// `SHA256SUMS` file that `sha256sum *.gz` would write).
    public static func checksumOfFiles(in directory: String) throws -> String {
        var listing = ""
        for name in fileNames.sorted() {
            let path = try locate(name, in: directory)
            let digest = SHA256.hexDigest(of: try FileBytes.read(path))
            listing += "\(digest)  \(URL(fileURLWithPath: path).lastPathComponent)\n"
        }
        return SHA256.hexDigest(of: Array(listing.utf8))
    }

    /// `pixel / 255` for every byte, through a table so each value is exactly the quotient.
    static func normalized(_ pixels: [UInt8]) -> [Float] {
        let table = (0...255).map { Float($0) / 255 }
        return [Float](unsafeUninitializedCapacity: pixels.count) { destination, initialized in
            pixels.withUnsafeBufferPointer { source in
                table.withUnsafeBufferPointer { lookup in
                    for index in 0..<source.count {
                        destination[index] = lookup[Int(source[index])]
                    }
                }
            }
            initialized = pixels.count
        }
    }

    static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
