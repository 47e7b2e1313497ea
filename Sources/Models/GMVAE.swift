import Autodiff
import Foundation
import Layers

/// Gaussian-mixture VAE with a categorical y (Rui Shu's GMVAE): p(y) = Uniform(K), p(z|y) = N(mu_y, diag(e^lv_y))
/// with learned mu_y, lv_y, p(x|z) Bernoulli; inference q(y|x) q(z|x,y).
///
/// q(y|x):   x [B, 784] -> qy_fc1 (784 -> 400) ReLU -> qy_fc2 (400 -> K) -> softmax.
/// q(z|x,y): [x, onehot(y)] -> 400 ReLU -> fc21 (mean), fc22 (log-variance), both 400 -> z. The first layer is
///           stored split as fc1 (784 -> 400, with bias) and fc1_y ([400, K], no bias): [x, onehot(y)] W^T + b
///           = fc1(x) + fc1_y[:, y], so x W_x^T is computed once per image and one column added per y.
/// p(x|z):   z -> fc3 (z -> 400) ReLU -> fc4 (400 -> 784) -> sigmoid (shared by every component).
/// Loss, summed over images: sum_y q(y|x) [ BCE(x, decoder(z_y)) + KL(q(z|x,y) || p(z|y)) ] + KL(q(y|x) || Uniform(K)),
///           with the sum over all K values of y taken exactly, one reparameterised z_y per (image, y), and the
///           Gaussian KL in closed form (the exact expectation of log q(z_y|x,y) - log p(z_y|y), so the bound is the
///           same as with a sampled log-density ratio, with less noise). `reconstruction` is the first term,
///           `regularizer` the two KLs. The K components go through q(z|x,y) and the decoder as one [K*B, ...]
///           batch, row y*B + b for image b and component y.
/// Reconstruction (`encode`): the mean of q(z|x, y*) with y* = argmax_y q(y|x).
/// Sampling: y ~ Uniform(K), z ~ p(z|y), decode.
/// Options (`ModelConfiguration`): `learnedMixtureWeights` replaces Uniform(K) by p(y) = softmax(a) with learned
///           logits a [1, K] (`prior.logits`, starting at 0) in the KL, the bound and sampling; `categoricalKLWeight` w
///           weights KL(q(y|x) || p(y)) in the training loss (the reported regularizer and the ELBO keep w = 1);
///           `priorMeanScale` s sets the initial prior means ~ N(0, s^2). `mixtureInference: vade` is `VaDE`.
/// Initialisation: the networks as PyTorch's defaults; prior means ~ N(0, 0.1^2), prior log-variances 0. The prior
///           means must start close together: components far apart (e.g. means ~ N(0, I)) make the one nearest the
///           codes' starting point cheapest for every image, q(y|x) collapses onto it and the others never get data.
/// Provenance: Rui Shu, "Gaussian Mixture VAE: Lessons in Variational Inference, Generative Models, and Deep
///           Nets" (2016), http://ruishu.io/2016/12/25/gmvae/; Kingma et al. 2014 (M2) for the sum over y.
public final class GMVAE: GenerativeModel {
    public let configuration: ModelConfiguration
    public var isTraining = false
    let qyFC1: Linear
    let qyFC2: Linear
    let fc1: Linear
    /// The one-hot-y columns of the first q(z|x,y) layer: [hidden, K] (PyTorch layout of a bias-free Linear(K, hidden)).
    let fc1Component: Tensor
    let fc21: Linear
    let fc22: Linear
    let fc3: Linear
    let fc4: Linear
    /// p(y) and p(z|y).
    public let prior: MixturePrior

    public init(configuration: ModelConfiguration, generator: inout SeededGenerator) {
        let c = configuration
        let k = c.mixtureComponents
        self.configuration = c
        qyFC1 = Linear(inputSize: c.imageSize, outputSize: c.hiddenSize, generator: &generator)
        qyFC2 = Linear(inputSize: c.hiddenSize, outputSize: k, generator: &generator)
        fc1 = Linear(inputSize: c.imageSize, outputSize: c.hiddenSize, generator: &generator)
        // The bound PyTorch would use for the unsplit Linear(imageSize + K, hidden).
        fc1Component = Initialization.uniform([c.hiddenSize, k],
                                              bound: Initialization.kaimingUniformBound(fanIn: c.imageSize + k),
                                              generator: &generator)
        fc21 = Linear(inputSize: c.hiddenSize, outputSize: c.latentSize, generator: &generator)
        fc22 = Linear(inputSize: c.hiddenSize, outputSize: c.latentSize, generator: &generator)
        fc3 = Linear(inputSize: c.latentSize, outputSize: c.hiddenSize, generator: &generator)
        fc4 = Linear(inputSize: c.hiddenSize, outputSize: c.imageSize, generator: &generator)
        prior = MixturePrior(configuration: c, generator: &generator)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        var all = nested("encoder.qy_fc1", qyFC1) + nested("encoder.qy_fc2", qyFC2)
        all += nested("encoder.fc1", fc1) + [("encoder.fc1_y.weight", fc1Component)]
        all += nested("encoder.fc21", fc21) + nested("encoder.fc22", fc22)
        all += nested("decoder.fc3", fc3) + nested("decoder.fc4", fc4)
        return all + prior.namedParameters
    }

    var components: Int { configuration.mixtureComponents }

    /// Logits of q(y|x): [batch, imageSize] -> [batch, K].
    public func componentLogits(_ images: Tensor) -> Tensor { qyFC2(qyFC1(images).relu()) }

    /// q(y|x): [batch, imageSize] -> [batch, K], rows summing to 1.
    public func componentProbabilities(_ images: Tensor) -> Tensor { componentLogits(images).softmaxRows() }

    /// Mean and log-variance of q(z|x,y) for every component at once: [K*B, z] each, row y*B + b for image b
    /// and component y.
    public func componentPosteriors(_ images: Tensor) -> (mean: Tensor, logVariance: Tensor) {
        let batch = images.shape[0]
        let shared = fc1(images).gatheringRows(tiledRowIndices(count: batch, times: components))
        let perComponent = fc1Component.transposed().gatheringRows(repeatedRowIndices(count: components, each: batch))
        let h = (shared + perComponent).relu()
        return (fc21(h), fc22(h))
    }

    /// Bernoulli logits of p(x|z), [rows, 784].
    public func decoderLogits(_ codes: Tensor) -> Tensor { fc4(fc3(codes).relu()) }

    /// The terms of the bound for a batch, given the noise of the K*B reparameterised codes ([K*B, z], row y*B + b).
    /// `weights`, `crossEntropy` and `gaussianKL` are [K*B] in the same row order; `categoricalKL` is a scalar.
    func boundTerms(_ images: Tensor, noise: Tensor)
        -> (logits: Tensor, weights: Tensor, crossEntropy: Tensor, gaussianKL: Tensor, categoricalKL: Tensor) {
        let batch = images.shape[0]
        let logits = componentLogits(images)
        let weights = logits.softmaxRows().transposed().reshaped([components * batch])
        let (mean, logVariance) = componentPosteriors(images)
        let codes = Tensor.reparameterize(mean: mean, logVariance: logVariance, noise: noise)
        let crossEntropy = Tensor.binaryCrossEntropyPerRow(logits: decoderLogits(codes), targets: images)
        let rows = repeatedRowIndices(count: components, each: batch)
        let gaussianKL = Tensor.gaussianKLPerRow(mean: mean, logVariance: logVariance,
                                                 priorMean: priorMeans.gatheringRows(rows),
                                                 priorLogVariance: priorLogVariances.gatheringRows(rows))
        let categoricalKL = prior.broadcastLogits(batch: batch).map { Tensor.categoricalKL(logits: logits, priorLogits: $0) }
            ?? Tensor.categoricalKLFromUniform(logits: logits)
        return (logits, weights, crossEntropy, gaussianKL, categoricalKL)
    }

    public func loss(_ images: Tensor, generator: inout SeededGenerator) -> LossBreakdown {
        let rows = components * images.shape[0]
        let noise = Tensor(shape: [rows, configuration.latentSize], data: generator.normals(rows * configuration.latentSize))
        let t = boundTerms(images, noise: noise)
        let reconstruction = (t.weights * t.crossEntropy).sum()
        let regularizer = (t.weights * t.gaussianKL).sum() + t.categoricalKL
        let w = configuration.categoricalKLWeight
        let weighted = w == 1 ? regularizer : (t.weights * t.gaussianKL).sum() + t.categoricalKL.scaled(by: Float(w))
        let total = configuration.beta == 1 ? reconstruction + weighted
                                            : reconstruction + weighted.scaled(by: Float(configuration.beta))
        return LossBreakdown(total: total, reconstruction: Double(reconstruction.scalar), regularizer: Double(regularizer.scalar))
    }

    public func encode(_ images: Tensor) -> Tensor {
        let q = componentProbabilities(images)
        let best = Self.argmaxRows(q.data, columns: components)
        let h = (fc1(images) + fc1Component.transposed().gatheringRows(best)).relu()
        return fc21(h)
    }

    public func decode(_ codes: Tensor) -> Tensor { decoderLogits(codes).sigmoid() }

    /// The training bound per image: one sampled z_y per component, exact sum over y, closed-form KLs; the noise
    /// [K * B, z] drawn from `generator` (`negativeELBO(_:noise:)` takes it given).
    public func negativeELBO(_ images: Tensor, generator: inout SeededGenerator) -> [Double]? {
        let shape = elboNoiseShape(batch: images.shape[0])
        return negativeELBO(images, noise: Tensor(shape: shape, data: generator.normals(shape[0] * shape[1])))
    }

    /// Clusters of argmax q(y|x) on `images`: see `clusteringFigures`.
    public func diagnostics(images: Tensor, labels: [UInt8]) -> [String: Double] {
        clusteringDiagnostics(images: images, labels: labels, responsibilities: componentProbabilities)
    }

    /// From q(y|x) rows ([count * K], row-major) and the true labels:
    /// `clusters_in_use`: components that are argmax q(y|x) for more than 1% of the images;
    /// `cluster_accuracy`: accuracy of argmax q(y|x) with each cluster mapped to its most frequent label;
    /// `mean_entropy_qy`: mean over images of the entropy of q(y|x) in nats (log K is uniform, 0 is certain).
    public static func clusteringFigures(probabilities: [Float], components: Int, labels: [UInt8]) -> [String: Double] {
        let n = labels.count
        precondition(probabilities.count == n * components && n > 0,
                     "clusteringFigures: \(probabilities.count) probabilities for \(n) images and \(components) components")
        let assignment = argmaxRows(probabilities, columns: components)
        var sizes = [Int](repeating: 0, count: components)
        var labelCounts = [[Int]](repeating: [Int](repeating: 0, count: 256), count: components)
        var entropy = 0.0
        for i in 0..<n {
            sizes[assignment[i]] += 1
            labelCounts[assignment[i]][Int(labels[i])] += 1
            for y in 0..<components {
                let q = Double(probabilities[i * components + y])
                if q > 0 { entropy -= q * Foundation.log(q) }
            }
        }
        let inUse = sizes.filter { Double($0) > 0.01 * Double(n) }.count
        let correct = labelCounts.reduce(0) { $0 + $1.max()! }
        return ["clusters_in_use": Double(inUse), "cluster_accuracy": Double(correct) / Double(n),
                "mean_entropy_qy": entropy / Double(n)]
    }

    /// Index of the largest entry of each row of a row-major [rows, columns] array (first on ties).
    static func argmaxRows(_ values: [Float], columns: Int) -> [Int] {
        (0..<(values.count / columns)).map { r in
            var best = 0
            for j in 1..<columns where values[r * columns + j] > values[r * columns + best] { best = j }
            return best
        }
    }
}
