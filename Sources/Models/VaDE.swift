import Autodiff
import Foundation
import Layers

/// A Gaussian-mixture prior over the vae_std encoder and decoder (VaDE, Jiang et al. 2017): p(y) = softmax(a) (or
/// Uniform(K)), p(z|y) = N(mu_y, diag(e^lv_y)), p(x|z) Bernoulli; inference q(z|x) = N(m(x), diag(e^v(x))) from
/// the MLP encoder and q(y|x) = gamma(x).
///
/// Networks: `MLPVAE`'s, under the same names and drawn in the same order (so a seed gives vae_std_z20's initial
/// weights), then prior means ~ N(0, priorMeanScale^2) [K, z], log-variances 0 [K, z], logits a = 0 [1, K].
/// Loss per image, with KL_y = KL(q(z|x) || p(z|y)) in closed form and one reparameterised z:
///   BCE(x, decoder(z)) + sum_y gamma_y KL_y + KL(gamma || p(y)),  gamma = softmax_y(log p(y) - KL_y),
/// which is the q(y|x) maximising the bound for this q(z|x); the regularizer then equals
/// -log sum_y p(y) e^(-KL_y). VaDE's own gamma is p(y|z) at the sampled z, a one-sample estimate of the same
/// responsibilities. Shapes: the K KLs are one [K*B] vector (row y*B + b) viewed as [B, K].
/// Reconstruction (`encode`): m(x). Sampling: y ~ p(y), z ~ p(z|y), decode.
/// Provenance: Jiang, Zheng, Tan, Tang & Zhou, "Variational Deep Embedding", IJCAI 2017.
public final class VaDE: GenerativeModel, ImportanceWeightedModel {
    public let configuration: ModelConfiguration
    public var isTraining: Bool {
        get { network.isTraining }
        set { network.isTraining = newValue }
    }
    /// The encoder q(z|x) and decoder p(x|z).
    let network: MLPVAE
    /// p(y) and p(z|y).
    public let prior: MixturePrior

    public init(configuration: ModelConfiguration, generator: inout SeededGenerator) {
        let c = configuration
        self.configuration = c
        network = MLPVAE(configuration: c, generator: &generator)
        prior = MixturePrior(configuration: c, generator: &generator)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        network.namedParameters + prior.namedParameters
    }

    var components: Int { configuration.mixtureComponents }

    /// KL_y = KL(q(z|x) || p(z|y)) for every image and component: [B, K].
    func componentKLs(mean: Tensor, logVariance: Tensor) -> Tensor {
        let batch = mean.shape[0], k = components
        let tiled = tiledRowIndices(count: batch, times: k), perComponent = repeatedRowIndices(count: k, each: batch)
        let kl = Tensor.gaussianKLPerRow(mean: mean.gatheringRows(tiled), logVariance: logVariance.gatheringRows(tiled),
                                         priorMean: priorMeans.gatheringRows(perComponent),
                                         priorLogVariance: priorLogVariances.gatheringRows(perComponent))
        return kl.reshaped([k, batch]).transposed()
    }

    /// The two KL terms of the bound, summed over the batch, and the logits of gamma ([B, K]).
    func regularizerTerms(mean: Tensor, logVariance: Tensor) -> (gaussian: Tensor, categorical: Tensor, logits: Tensor) {
        let batch = mean.shape[0]
        let kl = componentKLs(mean: mean, logVariance: logVariance)
        let broadcastLogits = prior.broadcastLogits(batch: batch)
        let logits = broadcastLogits.map { $0 - kl } ?? kl.scaled(by: -1)
        let gaussian = (logits.softmaxRows() * kl).sum()
        let categorical = broadcastLogits.map { Tensor.categoricalKL(logits: logits, priorLogits: $0) }
            ?? Tensor.categoricalKLFromUniform(logits: logits)
        return (gaussian, categorical, logits)
    }

    public func loss(_ images: Tensor, generator: inout SeededGenerator) -> LossBreakdown {
        let (mean, logVariance) = network.posterior(images)
        let noise = Tensor(shape: mean.shape, data: generator.normals(mean.count))
        let z = Tensor.reparameterize(mean: mean, logVariance: logVariance, noise: noise)
        let reconstruction = Tensor.binaryCrossEntropy(logits: network.decoderLogits(z), targets: images)
        let terms = regularizerTerms(mean: mean, logVariance: logVariance)
        let regularizer = terms.gaussian + terms.categorical
        let total = configuration.beta == 1 ? reconstruction + regularizer
                                            : reconstruction + regularizer.scaled(by: Float(configuration.beta))
        return LossBreakdown(total: total, reconstruction: Double(reconstruction.scalar), regularizer: Double(regularizer.scalar))
    }

    public func encode(_ images: Tensor) -> Tensor { network.posterior(images).mean }

    public func posteriorMean(_ images: Tensor) -> Tensor { encode(images) }

    public func decode(_ codes: Tensor) -> Tensor { network.decode(codes) }

    /// Per image: BCE of one reparameterised z plus -log sum_y p(y) e^(-KL_y) (the bound at the optimal q(y|x)).
    public func negativeELBO(_ images: Tensor, generator: inout SeededGenerator) -> [Double]? {
        let (mean, logVariance) = network.posterior(images)
        let batch = images.shape[0], k = components
        let noise = Tensor(shape: mean.shape, data: generator.normals(mean.count))
        let z = Tensor.reparameterize(mean: mean, logVariance: logVariance, noise: noise)
        let crossEntropy = Tensor.binaryCrossEntropyPerRow(logits: network.decoderLogits(z), targets: images).data
        let kl = componentKLs(mean: mean, logVariance: logVariance).data, logP = mixtureLogWeights
        return (0..<batch).map { b in
            Double(crossEntropy[b]) - logSumExp((0..<k).map { logP[$0] - Double(kl[b * k + $0]) })
        }
    }

    /// w = p(x|z) sum_y p(y) N(z; mu_y, e^lv_y) / q(z|x), z ~ q(z|x).
    public func logImportanceWeights(_ images: Tensor, samples: Int, generator: inout SeededGenerator) -> [Double] {
        let (mean, logVariance) = network.posterior(images)
        let logP = mixtureLogWeights
        return gaussianProposalLogWeights(images, mean: mean, logVariance: logVariance, samples: samples, generator: &generator,
                                          logPrior: { prior.logDensity($0, logP: logP) },
                                          decoderLogits: network.decoderLogits)
    }

    /// Clusters of argmax gamma(x): `GMVAE.clusteringFigures`.
    public func diagnostics(images: Tensor, labels: [UInt8]) -> [String: Double] {
        clusteringDiagnostics(images: images, labels: labels) { batch in
            let (mean, logVariance) = network.posterior(batch)
            return regularizerTerms(mean: mean, logVariance: logVariance).logits.softmaxRows()
        }
    }
}
