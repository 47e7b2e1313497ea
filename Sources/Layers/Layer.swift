import Autodiff

/// Anything that owns trainable tensors under dotted names (`encoder.fc1.weight`).
public protocol ParameterContainer: AnyObject {
    /// Every trainable tensor with its name, in a fixed order (the order optimizers and checkpoints use).
    var namedParameters: [(name: String, tensor: Tensor)] { get }
}

extension ParameterContainer {
    /// The tensors of `namedParameters`, in the same order.
    public var parameters: [Tensor] { namedParameters.map(\.tensor) }

    /// The total number of trainable scalars.
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.tensor.count } }

    /// Prefixes each name of `child` with `prefix.`: for composing containers.
    public func nested(_ prefix: String, _ child: ParameterContainer) -> [(name: String, tensor: Tensor)] {
        child.namedParameters.map { (prefix + "." + $0.name, $0.tensor) }
    }
}
