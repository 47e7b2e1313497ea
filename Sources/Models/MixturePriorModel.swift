import Autodiff

/// Models whose prior is a mixture of K components p(z) = sum_y p(y) p(z|y) (`MixturePrior`): samples can be drawn
/// from a chosen component (the report's one-row-per-component sheet). Sampling: y ~ p(y), z ~ p(z|y), decoded.
public protocol MixturePriorModel: GenerativeModel {
    /// p(y) and p(z|y).
    var prior: MixturePrior { get }
}

extension MixturePriorModel {
    /// Means of p(z|y): [K, z].
    public var priorMeans: Tensor { prior.means }
    /// Log-variances of p(z|y): [K, z].
    public var priorLogVariances: Tensor { prior.logVariances }
    /// Logits a of the learned mixture weights p(y) = softmax(a): [1, K]; nil for Uniform(K).
    public var priorLogits: Tensor? { prior.logits }
    /// log p(y) for y in 0..<K, in Double.
    public var mixtureLogWeights: [Double] { prior.logWeights }

    /// `count` prior samples with the component each was drawn from: y ~ p(y), z ~ p(z|y), decoded.
    public func sampleWithComponents(count: Int, generator: inout SeededGenerator) -> (components: [Int], images: Tensor) {
        let ys = prior.drawComponents(count: count, generator: &generator)
        return (ys, sample(components: ys, generator: &generator))
    }

    /// One decoded sample z ~ p(z|y) for each component y in `ys` (each in 0..<K): [ys.count, imageSize].
    public func sample(components ys: [Int], generator: inout SeededGenerator) -> Tensor {
        decode(prior.codes(components: ys, generator: &generator))
    }

    public func sample(count: Int, generator: inout SeededGenerator) -> Tensor {
        sampleWithComponents(count: count, generator: &generator).images
    }

    /// `GMVAE.clusteringFigures` of the rows of `responsibilities` ([batch, imageSize] -> q(y|x) [batch, K]) over
    /// `images`, in batches of 500.
    func clusteringDiagnostics(images: Tensor, labels: [UInt8], responsibilities: (Tensor) -> Tensor) -> [String: Double] {
        precondition(images.shape[0] == labels.count, "diagnostics: \(images.shape[0]) images, \(labels.count) labels")
        let n = images.shape[0], pixels = configuration.imageSize, components = configuration.mixtureComponents
        var probabilities: [Float] = []
        probabilities.reserveCapacity(n * components)
        var start = 0
        while start < n {
            let size = min(500, n - start)
            let batch = Tensor(shape: [size, pixels], data: Array(images.data[(start * pixels)..<((start + size) * pixels)]))
            probabilities += responsibilities(batch).data
            start += size
        }
        return GMVAE.clusteringFigures(probabilities: probabilities, components: components, labels: labels)
    }
}

extension GMVAE: MixturePriorModel {}
extension VaDE: MixturePriorModel {}
