import Foundation

// Element-wise ops. Each op's pullback sits right beside its forward.

extension Tensor {
    /// Applies `forward` to every element; the pullback multiplies the incoming gradient by
    /// `derivative(x, y)` where y = forward(x).
    @inline(__always)
    func mapElements(_ forward: (Float) -> Float,
                     derivative: @escaping (_ x: Float, _ y: Float) -> Float) -> Tensor {
        let n = count
        let x = data
        let y = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            x.withUnsafeBufferPointer { src in for i in 0..<n { out[i] = forward(src[i]) } }
            initialized = n
        }
        return Tensor(shape: shape, data: y, inputs: [self]) { out in
            let g = out.grad!
            self.withGrad { dx in
                g.withUnsafeBufferPointer { pg in x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in
                    for i in 0..<n { dx[i] += pg[i] * derivative(px[i], py[i]) }
                } } }
            }
        }
    }

    /// max(x, 0). Subgradient 0 at 0, as PyTorch.
    ///
    /// Its own loops rather than `mapElements`: the pullback there calls the escaping `derivative` closure per
    /// element, which was 8% of the conv VAE's training-step instructions. Same arithmetic, so the same bits
    /// (`reluMatchesMapElementsReference` keeps the `mapElements` form as the reference).
    /// Both passes run over the workers; the pullback writes a new gradient instead of zero-filling and adding to it
    /// (0 + g * mask, the same bits).
    public func relu() -> Tensor {
        let n = count
        let x = data
        let y = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            let target = out.baseAddress!
            x.withUnsafeBufferPointer { src in
                Parallel.forEachRange(n) { range in for i in range { target[i] = max(src[i], 0) } }
            }
            initialized = n
        }
        return Tensor(shape: shape, data: y, inputs: [self]) { out in
            out.grad!.withUnsafeBufferPointer { pg in x.withUnsafeBufferPointer { px in
                self.addToGrad { pg[$0] * (px[$0] > 0 ? 1 : 0) }
            } }
        }
    }

    /// 1 / (1 + e^-x), computed without overflow for large |x|.
    public func sigmoid() -> Tensor {
        mapElements({ stableSigmoid($0) }, derivative: { _, y in y * (1 - y) })
    }

    /// e^x.
    public func exp() -> Tensor {
        mapElements({ Foundation.exp($0) }, derivative: { _, y in y })
    }

    /// ln x (x > 0; ln 0 = -inf is the caller's problem: use the fused losses to avoid it).
    public func log() -> Tensor {
        mapElements({ Foundation.log($0) }, derivative: { x, _ in 1 / x })
    }

    /// x^2.
    public func squared() -> Tensor {
        mapElements({ $0 * $0 }, derivative: { x, _ in 2 * x })
    }

    /// s * x.
    public func scaled(by s: Float) -> Tensor {
        mapElements({ $0 * s }, derivative: { _, _ in s })
    }

    /// a + b, same shapes. Pullback: da += g, db += g.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        binary(a, b, { $0 + $1 }) { a, b, g, _, _ in
            if a.requiresGrad { a.addToGrad { g[$0] * 1 } }
            if b.requiresGrad { b.addToGrad { g[$0] * 1 } }
        }
    }

    /// a - b, same shapes. Pullback: da += g, db -= g.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        binary(a, b, { $0 - $1 }) { a, b, g, _, _ in
            if a.requiresGrad { a.addToGrad { g[$0] * 1 } }
            if b.requiresGrad { b.addToGrad { g[$0] * -1 } }
        }
    }

    /// a * b (element-wise), same shapes. Pullback: da += g b, db += g a.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        binary(a, b, { $0 * $1 }) { a, b, g, x, y in
            if a.requiresGrad { a.addToGrad { g[$0] * y[$0] } }
            if b.requiresGrad { b.addToGrad { g[$0] * x[$0] } }
        }
    }

    /// Element-wise binary op on equal shapes, over the workers. `pullback(a, b, g, x, y)` adds the gradients
    /// into a and b, given the output's gradient g and the values x of a and y of b (each op writes its own loops,
    /// so that nothing is called through a closure per element).
    @inline(__always)
    static func binary(_ a: Tensor, _ b: Tensor, _ forward: (Float, Float) -> Float,
                       pullback: @escaping (_ a: Tensor, _ b: Tensor, _ g: UnsafeBufferPointer<Float>,
                                            _ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>) -> Void)
        -> Tensor {
        precondition(a.shape == b.shape, "element-wise op on shapes \(a.shape) and \(b.shape)")
        let n = a.count
        let x = a.data, y = b.data
        let z = [Float](unsafeUninitializedCapacity: n) { out, initialized in
            let target = out.baseAddress!
            x.withUnsafeBufferPointer { p in y.withUnsafeBufferPointer { q in
                Parallel.forEachRange(n) { range in for i in range { target[i] = forward(p[i], q[i]) } }
            } }
            initialized = n
        }
        return Tensor(shape: a.shape, data: z, inputs: [a, b]) { out in
            out.grad!.withUnsafeBufferPointer { g in x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in
                pullback(a, b, g, px, py)
            } } }
        }
    }
}

/// 1 / (1 + e^-x) without overflow: for x < 0 use e^x / (1 + e^x).
@inline(__always)
public func stableSigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
    let e = Foundation.exp(x)
    return e / (1 + e)
}
