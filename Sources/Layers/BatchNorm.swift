import Autodiff

/// A batch-normalisation layer laid out as PyTorch's `nn.BatchNorm1d` (input [N, C] or [N, C, L]) and
/// `nn.BatchNorm2d` (input [N, C, H, W]), affine, with running statistics (`Tensor.batchNorm`).
///
/// Parameters: weight [C] (initially 1), bias [C] (initially 0). Buffers, under PyTorch's names: `running_mean` [C]
/// (initially 0), `running_var` [C] (initially 1), `num_batches_tracked` (int64 scalar, +1 per training batch).
/// momentum 0.1, eps 1e-5. Training mode normalises with the batch statistics and updates the running ones;
/// evaluation mode normalises with the running ones. The caller says which on each call (the model's `isTraining`).
public final class BatchNorm: ParameterContainer {
    /// Which PyTorch module the layer stands for: the input ranks it accepts.
    public enum Dimensions: Sendable {
        /// `nn.BatchNorm1d`: [N, C] or [N, C, L].
        case one
        /// `nn.BatchNorm2d`: [N, C, H, W].
        case two
    }

    public let dimensions: Dimensions
    public let weight: Tensor
    public let bias: Tensor
    public let runningMean: Tensor
    public let runningVariance: Tensor
    /// Training batches seen (PyTorch's `num_batches_tracked`).
    public let batchesTracked = BatchCounter()
    public let momentum: Float
    public let epsilon: Float

    public init(features: Int, dimensions: Dimensions, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        precondition(features > 0, "BatchNorm(\(features)): the number of features must be positive")
        self.dimensions = dimensions
        weight = Tensor(shape: [features], data: [Float](repeating: 1, count: features), requiresGrad: true)
        bias = Tensor.zeros([features], requiresGrad: true)
        runningMean = Tensor.zeros([features])
        runningVariance = Tensor(shape: [features], data: [Float](repeating: 1, count: features))
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public var features: Int { weight.count }

    /// Normalises `x` with the batch statistics (`training`, updating the running ones) or the running ones.
    public func callAsFunction(_ x: Tensor, training: Bool) -> Tensor {
        switch dimensions {
        case .one: precondition(x.rank == 2 || x.rank == 3, "BatchNorm1d needs [N, C] or [N, C, L], got \(x.shape)")
        case .two: precondition(x.rank == 4, "BatchNorm2d needs [N, C, H, W], got \(x.shape)")
        }
        if training { batchesTracked.value += 1 }
        return Tensor.batchNorm(x, weight: weight, bias: bias, runningMean: runningMean, runningVariance: runningVariance,
                                training: training, momentum: momentum, epsilon: epsilon)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }

    /// The float buffers: `running_mean`, `running_var`.
    public var namedBuffers: [(name: String, tensor: Tensor)] { [("running_mean", runningMean), ("running_var", runningVariance)] }

    /// The integer buffer: `num_batches_tracked`.
    public var namedCounters: [(name: String, counter: BatchCounter)] { [("num_batches_tracked", batchesTracked)] }
}

/// A mutable int64 count held by a layer and saved with it (PyTorch's `num_batches_tracked`).
public final class BatchCounter {
    public var value: Int64 = 0
    public init() {}
}

extension BatchNorm {
    /// The float buffers of `layers` under `<name>.<buffer>` (e.g. `encoder.fc1_bn.running_mean`), in order.
    public static func namedBuffers(of layers: [(name: String, layer: BatchNorm)]) -> [(name: String, tensor: Tensor)] {
        layers.flatMap { entry in entry.layer.namedBuffers.map { (entry.name + "." + $0.name, $0.tensor) } }
    }

    /// The counters of `layers` under `<name>.num_batches_tracked`, in order.
    public static func namedCounters(of layers: [(name: String, layer: BatchNorm)]) -> [(name: String, counter: BatchCounter)] {
        layers.flatMap { entry in entry.layer.namedCounters.map { (entry.name + "." + $0.name, $0.counter) } }
    }
}
