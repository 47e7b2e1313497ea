import Autodiff
import Datasets
import Foundation

/// Tiny MNIST-shaped data sets for tests, written with `IDX.write` under MNIST's file names.
public enum TinyMNIST {
    /// `train` and `test` 28 x 28 images of one random vertical and one horizontal stroke each, labels `i % 10`.
    public static func write(into folder: String, train: Int = 40, test: Int = 10, seed: UInt64 = 1) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var g = SeededGenerator(seed: seed)
        func images(_ count: Int) -> [UInt8] {
            var pixels = [UInt8](repeating: 0, count: count * 784)
            for i in 0..<count {
                let column = 4 + Int(g.boundedDraw(18)), row = 4 + Int(g.boundedDraw(18))
                for r in 4..<24 { pixels[i * 784 + r * 28 + column] = 255 }
                for c in 6..<22 { pixels[i * 784 + row * 28 + c] = 200 }
            }
            return pixels
        }
        try IDX.write(images(train), dimensions: [train, 28, 28], to: folder + "/train-images-idx3-ubyte")
        try IDX.write((0..<train).map { UInt8($0 % 10) }, dimensions: [train], to: folder + "/train-labels-idx1-ubyte")
        try IDX.write(images(test), dimensions: [test, 28, 28], to: folder + "/t10k-images-idx3-ubyte")
        try IDX.write((0..<test).map { UInt8($0 % 10) }, dimensions: [test], to: folder + "/t10k-labels-idx1-ubyte")
    }
}
