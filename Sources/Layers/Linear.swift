import Autodiff

/// A fully connected layer, y = x W^T + b, laid out as PyTorch's `nn.Linear`.
///
/// Shapes: weight [out, in], bias [out]; input [batch, in] -> output [batch, out].
/// Initialisation as PyTorch's default: W ~ U(-1/sqrt(in), 1/sqrt(in)) (Kaiming-uniform with a = sqrt(5)),
/// b ~ U(-1/sqrt(in), 1/sqrt(in)).
public final class Linear: ParameterContainer {
    public let weight: Tensor
    public let bias: Tensor

    public init(inputSize: Int, outputSize: Int, generator: inout SeededGenerator) {
        precondition(inputSize > 0 && outputSize > 0, "Linear(\(inputSize) -> \(outputSize)): sizes must be positive")
        let bound = Initialization.kaimingUniformBound(fanIn: inputSize)
        weight = Initialization.uniform([outputSize, inputSize], bound: bound, generator: &generator)
        bias = Initialization.uniform([outputSize], bound: bound, generator: &generator)
    }

    public var inputSize: Int { weight.shape[1] }
    public var outputSize: Int { weight.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor { Tensor.linear(x, weight: weight, bias: bias) }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }
}

/// PyTorch's default initialisers.
public enum Initialization {
    /// Bound of `kaiming_uniform_(w, a=sqrt(5))`: gain sqrt(2 / (1 + a^2)) * sqrt(3 / fanIn) = 1 / sqrt(fanIn).
    /// The same bound PyTorch uses for biases.
    public static func kaimingUniformBound(fanIn: Int) -> Float { 1 / Float(fanIn).squareRoot() }

    /// A trainable tensor with U(-bound, bound) entries.
    public static func uniform(_ shape: [Int], bound: Float, generator: inout SeededGenerator) -> Tensor {
        let n = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: n)
        for i in 0..<n { values[i] = generator.nextUniform(in: -bound, bound) }
        return Tensor(shape: shape, data: values, requiresGrad: true)
    }
}
