import Autodiff
import Datasets
import Models

/// Test-set reconstruction quality of a model.
public struct ReconstructionMetrics: Codable, Equatable, Sendable {
    /// Mean over images and pixels of (x - decode(encode(x)))^2, x in [0, 1], with the deterministic code
    /// (the mean of q(z|x)).
    public var meanSquaredError: Double
    /// Mean per-image negative ELBO in nats (one sampled z, analytic KL), where the model defines one.
    public var negativeELBO: Double?
    /// Number of test images evaluated.
    public var imageCount: Int

    /// Evaluates `model` on every image of `split`, `batchSize` images at a time (no graph is recorded).
    public static func measure(_ model: any GenerativeModel, on split: MNISTSplit, batchSize: Int = 500,
                               generator: inout SeededGenerator) -> ReconstructionMetrics {
        precondition(batchSize > 0, "batchSize must be positive, got \(batchSize)")
        let pixels = model.configuration.imageSize
        var squaredError = 0.0
        var elboTotal = 0.0
        var elboDefined = true
        var start = 0
        while start < split.count {
            let size = min(batchSize, split.count - start)
            let images = Tensor(shape: [size, pixels], data: Array(split.images[(start * pixels)..<((start + size) * pixels)]))
            let reconstruction = model.reconstruct(images)
            addSquaredErrors(images.data, reconstruction.data, to: &squaredError)
            if elboDefined, let perImage = model.negativeELBO(images, generator: &generator) {
                elboTotal += perImage.reduce(0, +)
            } else {
                elboDefined = false
            }
            start += size
        }
        return ReconstructionMetrics(meanSquaredError: squaredError / Double(split.count * pixels),
                                     negativeELBO: elboDefined ? elboTotal / Double(split.count) : nil,
                                     imageCount: split.count)
    }

    /// Adds (x_i - y_i)^2 for every i to `sum`: the difference in Float, squared and added in order in Double (the
    /// one definition of the test MSE, for our models batch after batch and for reconstructions made elsewhere).
    static func addSquaredErrors(_ x: [Float], _ y: [Float], to sum: inout Double) {
        precondition(x.count == y.count, "addSquaredErrors: \(x.count) and \(y.count) values")
        var total = sum
        x.withUnsafeBufferPointer { x in y.withUnsafeBufferPointer { y in
            for i in 0..<x.count { let d = Double(x[i] - y[i]); total += d * d }
        } }
        sum = total
    }
}
