import Autodiff

/// A 2-D convolution layer laid out as PyTorch's `nn.Conv2d` (square kernel, dilation 1, one group), NCHW.
///
/// Shapes: weight [out, in, K, K], bias [out]; input [N, in, H, W] -> output [N, out, Ho, Wo] with
/// Ho = (H + 2 padding - K) / stride + 1 (floor), likewise Wo.
/// Initialisation as PyTorch's default: weight and bias ~ U(-1/sqrt(fanIn), 1/sqrt(fanIn)), fanIn = in*K*K.
public final class Conv2D: ParameterContainer {
    public let weight: Tensor
    public let bias: Tensor
    public let stride: Int
    public let padding: Int

    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                generator: inout SeededGenerator) {
        precondition(inputChannels > 0 && outputChannels > 0 && kernelSize > 0,
                     "Conv2D(\(inputChannels) -> \(outputChannels), kernel \(kernelSize)): sizes must be positive")
        precondition(stride >= 1 && padding >= 0, "Conv2D: stride \(stride) must be >= 1, padding \(padding) >= 0")
        let bound = Initialization.kaimingUniformBound(fanIn: inputChannels * kernelSize * kernelSize)
        weight = Initialization.uniform([outputChannels, inputChannels, kernelSize, kernelSize], bound: bound,
                                        generator: &generator)
        bias = Initialization.uniform([outputChannels], bound: bound, generator: &generator)
        self.stride = stride
        self.padding = padding
    }

    public var inputChannels: Int { weight.shape[1] }
    public var outputChannels: Int { weight.shape[0] }
    public var kernelSize: Int { weight.shape[2] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }
}

/// A 2-D transposed convolution layer laid out as PyTorch's `nn.ConvTranspose2d` (square kernel,
/// output_padding 0, dilation 1, one group), NCHW: the adjoint of `Conv2D` with the same weight, plus a bias.
///
/// Shapes: weight [in, out, K, K], bias [out]; input [N, in, H, W] -> output [N, out, Ho, Wo] with
/// Ho = (H - 1) stride - 2 padding + K, likewise Wo.
/// Initialisation as PyTorch's default, including its quirk: PyTorch computes fan-in from
/// `weight.shape[1] * K * K`, which for a transposed convolution is the number of OUTPUT channels,
/// so weight and bias ~ U(-1/sqrt(out*K*K), 1/sqrt(out*K*K)). We follow PyTorch so that models match it.
public final class ConvTranspose2D: ParameterContainer {
    public let weight: Tensor
    public let bias: Tensor
    public let stride: Int
    public let padding: Int

    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                generator: inout SeededGenerator) {
        precondition(inputChannels > 0 && outputChannels > 0 && kernelSize > 0,
                     "ConvTranspose2D(\(inputChannels) -> \(outputChannels), kernel \(kernelSize)): sizes must be positive")
        precondition(stride >= 1 && padding >= 0,
                     "ConvTranspose2D: stride \(stride) must be >= 1, padding \(padding) >= 0")
        let bound = Initialization.kaimingUniformBound(fanIn: outputChannels * kernelSize * kernelSize)
        weight = Initialization.uniform([inputChannels, outputChannels, kernelSize, kernelSize], bound: bound,
                                        generator: &generator)
        bias = Initialization.uniform([outputChannels], bound: bound, generator: &generator)
        self.stride = stride
        self.padding = padding
    }

    public var inputChannels: Int { weight.shape[0] }
    public var outputChannels: Int { weight.shape[1] }
    public var kernelSize: Int { weight.shape[2] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.convTranspose2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }
}
