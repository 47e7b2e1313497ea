import Datasets
import Foundation
import Storage

/// The test MSE of a model trained anywhere, from its reconstructions of the MNIST test set
/// (`vae-eval reconstruction --images RECON.npy`).
public struct OutsideReconstructionScore: Codable, Equatable, Sendable {
    public var images: String
    public var format: String
    /// Mean over images and pixels of (x - x')^2, x the test image in [0, 1] and x' its reconstruction: the same
    /// definition, summation order and precision as `ReconstructionMetrics.meanSquaredError`.
    public var meanSquaredError: Double
    public var imageCount: Int
    /// Whether the order was checked against the user's copy of the originals (`--originals`).
    public var orderChecked: Bool
}

extension ReconstructionMetrics {
    /// Scores `reconstructions` (in test-set order) against `test`. With `originals` (the user's copy of the test
    /// images, in the order the reconstructions follow), each original's fingerprint (its pixels rounded to bytes)
    /// must be the test image at the same index; a set in another order, or of other images, is refused.
    public static func scoreOutside(_ reconstructions: ImageSet, path: String, test: MNISTSplit,
                                    originals: (set: ImageSet, path: String)? = nil) throws -> OutsideReconstructionScore {
        let pixels = test.rows * test.columns
        guard reconstructions.count == test.count else {
            throw EvaluationError.badImageSet(path: path, reason: "it holds \(reconstructions.count) images, the MNIST test set \(test.count): "
                + "reconstruct every test image, in test-set order")
        }
        if let originals { try checkOrder(originals.set, path: originals.path, test: test, pixels: pixels) }
        var squaredError = 0.0
        addSquaredErrors(test.images, reconstructions.images, to: &squaredError)
        let mse = squaredError / Double(test.count * pixels)
        return OutsideReconstructionScore(images: path, format: reconstructions.format, meanSquaredError: mse,
                                          imageCount: test.count, orderChecked: originals != nil)
    }

    /// The per-image fingerprint: SHA-256 of the image's pixels as bytes (round(255 p)).
    static func fingerprint(_ images: [Float], index: Int, pixels: Int) -> String {
        SHA256.hexDigest(of: ImageSetFile.bytes(Array(images[(index * pixels)..<((index + 1) * pixels)])))
    }

    static func checkOrder(_ originals: ImageSet, path: String, test: MNISTSplit, pixels: Int) throws {
        guard originals.count == test.count else {
            throw EvaluationError.badImageSet(path: path, reason: "it holds \(originals.count) originals, the MNIST test set \(test.count)")
        }
        let expected = (0..<test.count).map { fingerprint(test.images, index: $0, pixels: pixels) }
        guard let mismatch = (0..<test.count).first(where: {
            fingerprint(originals.images, index: $0, pixels: pixels) != expected[$0]
        }) else { return }
        var firstIndex: [String: Int] = [:]
        for (i, f) in expected.enumerated() where firstIndex[f] == nil { firstIndex[f] = i }
        let found = firstIndex[fingerprint(originals.images, index: mismatch, pixels: pixels)]
        throw EvaluationError.badImageSet(path: path, reason: found.map {
            "its image \(mismatch) is test image \($0): the reconstructions must follow the MNIST test set's order"
        } ?? "its image \(mismatch) is not an MNIST test image: pass the test set your model reconstructed, in order")
    }
}
