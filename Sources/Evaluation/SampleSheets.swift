import Autodiff
import Datasets
import Imaging
import Models

/// The PNG sample sheets of a run. Every sheet is a grid of 28 x 28 tiles (`ImageGrid`), 8-bit gray.
public enum SampleSheets {
    /// `rows` x `rows` samples from the model's prior.
    public static func samples(_ model: any GenerativeModel, rows: Int = 8, scale: Int = 1,
                               generator: inout SeededGenerator) -> PixelImage {
        let images = model.sample(count: rows * rows, generator: &generator)
        return grid(rows: rows, columns: rows, scale: scale).render(tiles: images.data)
    }

    /// Test images and their reconstructions in alternating rows: `pairs` pairs of rows of `columns`.
    ///
    /// `images`: [count, 784] with count >= pairs * columns.
    public static func reconstructions(_ model: any GenerativeModel, images: Tensor, pairs: Int = 4, columns: Int = 8,
                                       scale: Int = 1) -> PixelImage {
        let pixels = images.shape[1], n = pairs * columns
        precondition(images.shape[0] >= n, "reconstructions: need \(n) images, got \(images.shape[0])")
        let originals = Array(images.data[0..<(n * pixels)])
        let rebuilt = model.reconstruct(Tensor(shape: [n, pixels], data: originals)).data
        var tiles: [Float] = []
        tiles.reserveCapacity(2 * n * pixels)
        for row in 0..<pairs {
            let range = (row * columns * pixels)..<((row + 1) * columns * pixels)
            tiles += originals[range]
            tiles += rebuilt[range]
        }
        return grid(rows: 2 * pairs, columns: columns, scale: scale).render(tiles: tiles)
    }

    /// Rows of decoded linear interpolations between the codes of pairs of test images: image 2r to
    /// image 2r + 1 in row r, `steps` tiles per row including both ends.
    public static func interpolations(_ model: any GenerativeModel, images: Tensor, rows: Int = 8, steps: Int = 10,
                                      scale: Int = 1) -> PixelImage {
        precondition(steps >= 2 && images.shape[0] >= 2 * rows, "interpolations: \(rows) rows need \(2 * rows) images")
        let pixels = images.shape[1]
        let codes = model.encode(Tensor(shape: [2 * rows, pixels], data: Array(images.data[0..<(2 * rows * pixels)])))
        let width = codes.count / (2 * rows)
        var path = [Float](repeating: 0, count: rows * steps * width)
        for r in 0..<rows {
            for s in 0..<steps {
                let t = Float(s) / Float(steps - 1)
                for j in 0..<width {
                    let a = codes.data[(2 * r) * width + j], b = codes.data[(2 * r + 1) * width + j]
                    path[(r * steps + s) * width + j] = (1 - t) * a + t * b
                }
            }
        }
        let decoded = model.decode(Tensor(shape: [rows * steps, width], data: path))
        return grid(rows: rows, columns: steps, scale: scale).render(tiles: decoded.data)
    }

    /// Latent traversals around the mean code of `image` [1, 784]: row d varies latent dimension d over
    /// [-range, range] (the other dimensions fixed), `steps` tiles per row, for the first `dimensions` dims.
    public static func traversals(_ model: any GenerativeModel, image: Tensor, dimensions: Int = 10, steps: Int = 11,
                                  range: Float = 3, scale: Int = 1) -> PixelImage {
        let code = model.encode(image).data
        let rows = min(dimensions, code.count)
        var path: [Float] = []
        path.reserveCapacity(rows * steps * code.count)
        for d in 0..<rows {
            for s in 0..<steps {
                var c = code
                c[d] = -range + 2 * range * Float(s) / Float(steps - 1)
                path += c
            }
        }
        let decoded = model.decode(Tensor(shape: [rows * steps, code.count], data: path))
        return grid(rows: rows, columns: steps, scale: scale).render(tiles: decoded.data)
    }

    static func grid(rows: Int, columns: Int, scale: Int) -> ImageGrid {
        ImageGrid(rows: rows, columns: columns, tileWidth: 28, tileHeight: 28, scale: scale)
    }
}

extension MNISTSplit {
    /// The first `count` images as a [count, pixels] tensor.
    public func imageTensor(first count: Int) -> Tensor {
        precondition(count >= 0 && count <= self.count, "imageTensor(first: \(count)) of \(self.count) images")
        return Tensor(shape: [count, pixelsPerImage], data: Array(images[0..<(count * pixelsPerImage)]))
    }
}
