import Autodiff
import Models

/// Ex-post density estimation: a Gaussian mixture fitted to the encoder means of a trained model, sampled and
/// decoded in place of the model's prior.
///
/// Provenance: Ghosh et al. 2020, "From variational to deterministic autoencoders"; pythae's
/// `GaussianMixtureSampler` (K = 10 full-covariance components fitted on the training set's `mu(x)`).
public enum ExPostSampler {
    /// Fits a `components`-component mixture (see `GaussianMixture.fit`) to `model.encode` of `images`
    /// [count, imageSize], encoded `batchSize` rows at a time. Returns a mixture of dimension `latentSize`.
    public static func fit(model: any GenerativeModel, images: Tensor, components: Int = 10, iterations: Int = 100,
                           tolerance: Double = 1e-6, batchSize: Int = 500,
                           generator: inout SeededGenerator) -> GaussianMixture {
        let pixels = model.configuration.imageSize
        precondition(images.shape.count == 2 && images.shape[1] == pixels,
                     "ExPostSampler.fit: images must be [count, \(pixels)], got \(images.shape)")
        precondition(batchSize >= 1, "ExPostSampler.fit: batchSize must be >= 1, got \(batchSize)")
        let count = images.shape[0]
        var codes: [Float] = []
        var dimension = 0
        var done = 0
        while done < count {
            let size = min(batchSize, count - done)
            let batch = Tensor(shape: [size, pixels], data: Array(images.data[(done * pixels)..<((done + size) * pixels)]))
            let encoded = model.encode(batch)
            precondition(encoded.shape.count == 2 && encoded.shape[0] == size,
                         "ExPostSampler.fit: encode gave shape \(encoded.shape) for \(size) images")
            dimension = encoded.shape[1]
            codes += encoded.data
            done += size
        }
        precondition(count >= components,
                     "ExPostSampler.fit: \(count) images cannot fit \(components) components")
        return GaussianMixture.fit(points: codes, dimension: dimension, components: components, iterations: iterations,
                                   tolerance: tolerance, generator: &generator).0
    }

    /// `count` images [count, imageSize]: codes drawn from `mixture`, decoded `batchSize` at a time.
    public static func sample(model: any GenerativeModel, mixture: GaussianMixture, count: Int, batchSize: Int = 500,
                              generator: inout SeededGenerator) -> Tensor {
        precondition(count >= 0, "ExPostSampler.sample: count must be >= 0, got \(count)")
        precondition(batchSize >= 1, "ExPostSampler.sample: batchSize must be >= 1, got \(batchSize)")
        let pixels = model.configuration.imageSize
        let d = mixture.dimension
        let codes = mixture.sample(count: count, generator: &generator)
        var values: [Float] = []
        values.reserveCapacity(count * pixels)
        var done = 0
        while done < count {
            let size = min(batchSize, count - done)
            let decoded = model.decode(Tensor(shape: [size, d], data: Array(codes[(done * d)..<((done + size) * d)])))
            precondition(decoded.shape == [size, pixels],
                         "ExPostSampler.sample: decode gave shape \(decoded.shape), expected [\(size), \(pixels)] (mixture dimension \(d))")
            values += decoded.data
            done += size
        }
        return Tensor(shape: [count, pixels], data: values)
    }
}
