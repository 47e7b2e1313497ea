import Autodiff
import Foundation
import Layers

/// The study's convolutional VAE (`vae_conv`): two stride-2 convolutions down to 64 x 7 x 7, the mirror image up.
///
/// Encoder: x [B, 784] -> [B, 1, 28, 28] -> conv1 (1 -> 32, k4 s2 p1) ReLU [B, 32, 14, 14]
///          -> conv2 (32 -> 64, k4 s2 p1) ReLU [B, 64, 7, 7] -> flatten [B, 3136] (channel-major, as PyTorch's view)
///          -> fcMean, fcLogVariance (3136 -> z).
/// Decoder: z -> fc (z -> 3136) ReLU -> [B, 64, 7, 7] -> deconv1 (64 -> 32, k4 s2 p1) ReLU [B, 32, 14, 14]
///          -> deconv2 (32 -> 1, k4 s2 p1) [B, 1, 28, 28] -> [B, 784] -> sigmoid.
/// With `batchNorm`, a BatchNorm2d sits after each hidden convolution, before its ReLU: `encoder.conv1_bn` (32),
/// `encoder.conv2_bn` (64), `decoder.deconv1_bn` (32); none after the linear layers or the output deconv2.
/// Loss: BCE(x_hat, x) summed (on the pre-sigmoid logits) + KL(q(z|x) || N(0, I)), z = 20.
/// Parameter names: `encoder.conv1`, `encoder.conv2`, `encoder.fc_mean`, `encoder.fc_logvar`, `decoder.fc`,
/// `decoder.deconv1`, `decoder.deconv2` (each `.weight`, `.bias`, PyTorch layouts), then the batch norms' `.weight`,
/// `.bias` and buffers `.running_mean`, `.running_var`, `.num_batches_tracked`.
/// Provenance: Kingma & Welling 2014; the DCGAN-style 4x4 stride-2 layers common to MNIST conv VAEs; Ioffe & Szegedy 2015.
public final class ConvVAE: GaussianVAE {
    public let configuration: ModelConfiguration
    public var isTraining = false
    let conv1: Conv2D
    let conv2: Conv2D
    let fcMean: Linear
    let fcLogVariance: Linear
    let fc: Linear
    let deconv1: ConvTranspose2D
    let deconv2: ConvTranspose2D
    /// With `batchNorm`: after conv1, conv2 and deconv1; else nil.
    let conv1Norm: BatchNorm?
    let conv2Norm: BatchNorm?
    let deconv1Norm: BatchNorm?

    /// Image side (28) and the encoder's feature map: 64 channels of 7 x 7.
    static let side = 28
    static let featureChannels = 64
    static let featureSide = 7
    static var featureSize: Int { featureChannels * featureSide * featureSide }

    public init(configuration: ModelConfiguration, generator: inout SeededGenerator) {
        precondition(configuration.imageSize == Self.side * Self.side,
                     "ConvVAE needs 28 x 28 images (imageSize 784), got imageSize \(configuration.imageSize)")
        let c = configuration
        self.configuration = c
        // Creation order is module order, so that seeds mean the same thing as in a PyTorch port.
        conv1 = Conv2D(inputChannels: 1, outputChannels: 32, kernelSize: 4, stride: 2, padding: 1, generator: &generator)
        conv2 = Conv2D(inputChannels: 32, outputChannels: Self.featureChannels, kernelSize: 4, stride: 2, padding: 1,
                       generator: &generator)
        fcMean = Linear(inputSize: Self.featureSize, outputSize: c.latentSize, generator: &generator)
        fcLogVariance = Linear(inputSize: Self.featureSize, outputSize: c.latentSize, generator: &generator)
        fc = Linear(inputSize: c.latentSize, outputSize: Self.featureSize, generator: &generator)
        deconv1 = ConvTranspose2D(inputChannels: Self.featureChannels, outputChannels: 32, kernelSize: 4, stride: 2,
                                  padding: 1, generator: &generator)
        deconv2 = ConvTranspose2D(inputChannels: 32, outputChannels: 1, kernelSize: 4, stride: 2, padding: 1,
                                  generator: &generator)
        // Batch norm draws nothing from the generator (weight 1, bias 0).
        conv1Norm = c.batchNorm ? BatchNorm(features: 32, dimensions: .two) : nil
        conv2Norm = c.batchNorm ? BatchNorm(features: Self.featureChannels, dimensions: .two) : nil
        deconv1Norm = c.batchNorm ? BatchNorm(features: 32, dimensions: .two) : nil
    }

    /// The batch-norm layers under their module paths.
    var batchNorms: [(name: String, layer: BatchNorm)] {
        [("encoder.conv1_bn", conv1Norm), ("encoder.conv2_bn", conv2Norm), ("decoder.deconv1_bn", deconv1Norm)]
            .compactMap { name, layer in layer.map { (name, $0) } }
    }

    public var namedBuffers: [(name: String, tensor: Tensor)] { BatchNorm.namedBuffers(of: batchNorms) }

    public var namedCounters: [(name: String, counter: BatchCounter)] { BatchNorm.namedCounters(of: batchNorms) }

    public var minimumTrainingBatchSize: Int { configuration.batchNorm ? 2 : 1 }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        nested("encoder.conv1", conv1) + nested("encoder.conv2", conv2)
            + nested("encoder.fc_mean", fcMean) + nested("encoder.fc_logvar", fcLogVariance)
            + nested("decoder.fc", fc) + nested("decoder.deconv1", deconv1) + nested("decoder.deconv2", deconv2)
            + batchNorms.flatMap { nested($0.name, $0.layer) }
    }

    /// The encoder's features [batch, 3136] of images [batch, 784].
    func features(_ images: Tensor) -> Tensor {
        let batch = images.shape[0]
        let x = images.reshaped([batch, 1, Self.side, Self.side])
        let h = normalized(conv1(x), conv1Norm).relu()
        return normalized(conv2(h), conv2Norm).relu().reshaped([batch, Self.featureSize])
    }

    /// Mean and log-variance of q(z|x), each [batch, z].
    public func posterior(_ images: Tensor) -> (mean: Tensor, logVariance: Tensor) {
        let h = features(images)
        return (fcMean(h), fcLogVariance(h))
    }

    /// Bernoulli logits of p(x|z), [batch, 784].
    public func decoderLogits(_ codes: Tensor) -> Tensor {
        let batch = codes.shape[0]
        let h = fc(codes).relu().reshaped([batch, Self.featureChannels, Self.featureSide, Self.featureSide])
        return deconv2(normalized(deconv1(h), deconv1Norm).relu()).reshaped([batch, Self.side * Self.side])
    }
}
