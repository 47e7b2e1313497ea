/// A row-major, contiguous Float32 tensor that records how it was computed, for reverse-mode autodiff.
///
/// A tensor made by an op keeps its inputs and a `pullback` closure that, given this tensor's gradient,
/// adds the vector-Jacobian products into its inputs' gradients. `backward()` on a scalar runs the
/// pullbacks in reverse topological order (micrograd's design, over whole tensors).
/// Tensors that no parameter depends on record nothing, so evaluation builds no graph.
public final class Tensor {
    /// Dimensions, outermost first. `[]` is a scalar.
    public let shape: [Int]
    /// The values, row-major; `data.count == shape.reduce(1, *)`.
    public var data: [Float]
    /// d(loss)/d(self), same layout as `data`; allocated when a gradient first flows in.
    public var grad: [Float]?
    /// Whether gradients flow to this tensor (parameters, and everything computed from them).
    public let requiresGrad: Bool

    let inputs: [Tensor]
    let pullback: ((Tensor) -> Void)?

    /// A leaf tensor (data or parameter).
    public init(shape: [Int], data: [Float], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        precondition(data.count == shape.reduce(1, *),
                     "Tensor: \(data.count) values do not fill shape \(shape)")
        self.shape = shape
        self.data = data
        self.requiresGrad = requiresGrad
        self.inputs = []
        self.pullback = nil
    }

    /// The result of an op. Records `inputs` and `pullback` only when some input requires a gradient.
    /// This is how any module defines a differentiable op (e.g. a model's fused op beside the model): compute
    /// `data`, and give a `pullback` that reads the result's `grad` and adds each input's vector-Jacobian product
    /// into it with `accumulateGrad` or `addToGrad`.
    public init(shape: [Int], data: [Float], inputs: [Tensor], pullback: @escaping (Tensor) -> Void) {
        precondition(data.count == shape.reduce(1, *), "op produced \(data.count) values for shape \(shape)")
        self.shape = shape
        self.data = data
        let needed = inputs.contains { $0.requiresGrad }
        self.requiresGrad = needed
        self.inputs = needed ? inputs : []
        self.pullback = needed ? pullback : nil
    }

    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    /// A scalar tensor.
    public convenience init(_ value: Float) { self.init(shape: [], data: [value]) }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// The single value of a one-element tensor.
    public var scalar: Float {
        precondition(data.count == 1, "scalar of a tensor with shape \(shape)")
        return data[0]
    }

    /// A view of the same values under another shape (a copy of the array, copy-on-write, so free until written).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "reshape \(shape) -> \(newShape): sizes differ")
        return Tensor(shape: newShape, data: data, inputs: [self]) { out in
            self.accumulateGrad(out.grad!)
        }
    }

    /// The same values with no history: gradients stop here.
    public func detached() -> Tensor { Tensor(shape: shape, data: data) }

    /// Gradient buffer, allocated as zeros on first use.
    public func withGrad<R>(_ body: (UnsafeMutableBufferPointer<Float>) -> R) -> R {
        if grad == nil { grad = [Float](repeating: 0, count: count) }
        return grad!.withUnsafeMutableBufferPointer { body($0) }
    }

    /// Gradient buffer for a pullback that can write its contribution rather than add it: `body(dx, isNew)`,
    /// where `isNew` means dx was just allocated and holds no values yet (write every entry), else dx holds
    /// earlier contributions (add to them). Saves the zero fill of a new gradient and its re-read.
    @inline(__always)
    public func withGrad<R>(writingIfNew body: (UnsafeMutableBufferPointer<Float>, _ isNew: Bool) -> R) -> R {
        if grad == nil {
            let n = count
            grad = [Float](unsafeUninitializedCapacity: n) { _, initialized in initialized = n }
            return grad!.withUnsafeMutableBufferPointer { body($0, true) }
        }
        return grad!.withUnsafeMutableBufferPointer { body($0, false) }
    }

    /// Adds `contribution(i)` to every entry i of the gradient, over the workers: grad[i] += contribution(i), or,
    /// when the gradient is new, grad[i] = 0 + contribution(i) (the bits of adding to zeros, without the zero fill).
    @inline(__always)
    public func addToGrad(_ contribution: (Int) -> Float) {
        let n = count
        withGrad(writingIfNew: { dx, isNew in
            let target = dx.baseAddress!
            Parallel.forEachRange(n) { range in
                if isNew {
                    for i in range { target[i] = 0 + contribution(i) }
                } else {
                    for i in range { target[i] += contribution(i) }
                }
            }
        })
    }

    /// grad += g (nothing when this tensor requires no gradient).
    public func accumulateGrad(_ g: [Float]) {
        guard requiresGrad else { return }
        if grad == nil { grad = g; return }
        withGrad { dst in g.withUnsafeBufferPointer { src in for i in 0..<src.count { dst[i] += src[i] } } }
    }

    /// Sets every gradient to zero, keeping the buffer (no allocation per step).
    public func zeroGrad() {
        guard grad != nil else { return }
        withGrad { $0.update(repeating: 0) }
    }
}

extension Tensor {
    /// Backpropagates from this scalar: afterwards every tensor it depends on that requires a gradient
    /// holds d(self)/d(tensor) added to its `grad`.
    public func backward() {
        precondition(count == 1, "backward() needs a scalar, got shape \(shape)")
        guard requiresGrad else { return }
        // Iterative post-order DFS: deep graphs must not overflow the stack.
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for input in node.inputs where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        grad = [1]
        for node in order.reversed() where node.grad != nil {
            node.pullback?(node)
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = data.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", ..." : "")])"
    }
}
