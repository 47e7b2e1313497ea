import Autodiff
import Models

/// Ex-post density estimation: a Gaussian mixture fitted to the encoder means of a trained model, sampled and
/// decoded in place of the model's prior.
///
/// The codes are `model.encode(x)`, the deterministic code each model reconstructs from:
/// - MLP and convolutional VAEs (`GaussianVAE`): the posterior mean mu(x) of q(z|x), as in pythae.
/// - GM-VAE: the mean of q(z|x, y*) for the most probable component y* = argmax_y q(y|x) (not the mixture mean
///   sum_y q(y|x) mu(x, y); after training q(y|x) is nearly one-hot, and this is the code reconstructions use).
/// - WAE: the deterministic encoder's output, its only code.
/// - VQ-VAE: quantised codebook vectors, a discrete latent: the gmm sampler does not apply (`SamplerKind`).
///
/// Provenance: Ghosh et al. 2020, "From variational to deterministic autoencoders"; pythae's
/// `GaussianMixtureSampler` (K = 10 full-covariance components fitted on the training set's `mu(x)`).
public enum ExPostSampler {
    /// The codes `model.encode` gives for `images` [count, imageSize], encoded `batchSize` rows at a time:
    /// row-major [count, dimension].
    public static func codes(model: any GenerativeModel, images: Tensor, batchSize: Int = 500) -> (values: [Float], dimension: Int) {
        let pixels = model.configuration.imageSize
        precondition(images.shape.count == 2 && images.shape[1] == pixels,
                     "ExPostSampler.codes: images must be [count, \(pixels)], got \(images.shape)")
        precondition(batchSize >= 1, "ExPostSampler.codes: batchSize must be >= 1, got \(batchSize)")
        let count = images.shape[0]
        var codes: [Float] = []
        var dimension = 0
        var done = 0
        while done < count {
            let size = min(batchSize, count - done)
            let batch = Tensor(shape: [size, pixels], data: Array(images.data[(done * pixels)..<((done + size) * pixels)]))
            let encoded = model.encode(batch)
            precondition(encoded.shape.count == 2 && encoded.shape[0] == size,
                         "ExPostSampler.codes: encode gave shape \(encoded.shape) for \(size) images")
            dimension = encoded.shape[1]
            codes += encoded.data
            done += size
        }
        return (codes, dimension)
    }

    /// Fits a `components`-component mixture (see `GaussianMixture.fit`) to the `codes` of `images`
    /// [count, imageSize]. Returns a mixture of the code dimension.
    public static func fit(model: any GenerativeModel, images: Tensor, components: Int = 10, iterations: Int = 100,
                           tolerance: Double = 1e-6, batchSize: Int = 500,
                           generator: inout SeededGenerator) -> GaussianMixture {
        let (values, dimension) = codes(model: model, images: images, batchSize: batchSize)
        precondition(images.shape[0] >= components,
                     "ExPostSampler.fit: \(images.shape[0]) images cannot fit \(components) components")
        return GaussianMixture.fit(points: values, dimension: dimension, components: components, iterations: iterations,
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
