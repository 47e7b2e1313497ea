import LinearAlgebra

// Vector quantisation (VQ-VAE's bottleneck): nearest-code search and the straight-through quantiser.
// The pullback sits right beside the forward.

extension Tensor {
    /// For each row of `vectors` [N, D], the index of the nearest row of `codebook` [K, D] in Euclidean
    /// distance; on exact ties the lowest index (as `torch.argmin`).
    ///
    /// Computed as argmin_k ||e_k||^2 - 2 z . e_k (||z||^2 is the same for every k and dropped): one sgemm
    /// [N, D] x [D, K] plus a scan, O(N K D) flops but at BLAS speed. In Float, codes whose distances to z
    /// differ by less than about 1e-6 (||z||^2 + ||e||^2) may be ranked either way.
    /// Not differentiable (indices); gradients reach z through `vectorQuantized`.
    /// Provenance: van den Oord et al. 2017, eq. (1); Sonnet's `VectorQuantizer` distance expansion.
    public static func nearestCodeIndices(_ vectors: Tensor, codebook: Tensor) -> [Int] {
        precondition(vectors.rank == 2 && codebook.rank == 2 && vectors.shape[1] == codebook.shape[1] && codebook.shape[0] > 0,
                     "nearestCodeIndices: vectors \(vectors.shape) (want [N, D]), codebook \(codebook.shape) (want [K, D], K >= 1)")
        let n = vectors.shape[0], d = vectors.shape[1], k = codebook.shape[0]
        if n == 0 { return [] }
        var indices = [Int](repeating: 0, count: n)
        // Rows in chunks so that the score matrix stays small (<= 1 MB) whatever the batch.
        let chunk = max(1, min(n, (1 << 18) / k))
        var scores = [Float](repeating: 0, count: chunk * k)
        var norms = [Float](repeating: 0, count: k)
        codebook.data.withUnsafeBufferPointer { e in
            for j in 0..<k {
                var total: Float = 0
                for c in 0..<d { total += e[j * d + c] * e[j * d + c] }
                norms[j] = total
            }
        }
        vectors.data.withUnsafeBufferPointer { z in codebook.data.withUnsafeBufferPointer { e in
        scores.withUnsafeMutableBufferPointer { s in
            for start in Swift.stride(from: 0, to: n, by: chunk) {
                let rows = min(chunk, n - start)
                for r in 0..<rows { for j in 0..<k { s[r * k + j] = norms[j] } }
                // s = -2 Z E^T + s
                BLAS.gemm(.none, .transposed, m: rows, n: k, k: d, alpha: -2, a: z.baseAddress! + start * d, lda: d,
                          b: e.baseAddress!, ldb: d, beta: 1, c: s.baseAddress!, ldc: k)
                for r in 0..<rows { indices[start + r] = firstMinimum(s.baseAddress! + r * k, count: k) }
            }
        } } }
        return indices
    }

    /// The index of the first smallest of `count` scores, NaNs ignored, as the scalar scan
    /// `best = 0; for j in 1..<count where s[j] < s[best] { best = j }` gives it (0 when s[0] is NaN, as there).
    /// The minimum is found 16 lanes at a time, then its first position.
    static func firstMinimum(_ scores: UnsafePointer<Float>, count: Int) -> Int {
        if scores[0].isNaN { return 0 }
        var lanes = SIMD16<Float>(repeating: .infinity)
        var j = 0
        while j &+ 16 <= count {
            let v = UnsafeRawPointer(scores + j).loadUnaligned(as: SIMD16<Float>.self)
            lanes.replace(with: v, where: v .< lanes)
            j &+= 16
        }
        var smallest = Float.infinity
        for l in 0..<16 where lanes[l] < smallest { smallest = lanes[l] }
        while j < count { if scores[j] < smallest { smallest = scores[j] }; j &+= 1 }
        // NaN lanes never win `.<`, so `smallest` is the minimum of the other scores (infinity if there are none,
        // and then scores[0] is infinity too: index 0, as the scan gives).
        var index = 0
        while index < count && !(scores[index] == smallest) { index &+= 1 }
        return index < count ? index : 0
    }

    /// The straight-through vector quantiser: row i of the result is `codebook[indices[i]]`, and the
    /// pullback copies the incoming gradient to `vectors` unchanged (dz = dq), as if the op were the
    /// identity: q = z + sg(e_k - z).
    ///
    /// Shapes: vectors [N, D], codebook [K, D], indices N values in 0..<K -> [N, D]. The codebook receives no
    /// gradient (it is learned by EMA or by a separate codebook loss on the detached quantised vectors).
    /// Provenance: van den Oord et al. 2017, section 3.1 ("we just copy gradients from decoder input z_q(x)
    /// to encoder output z_e(x)"); Bengio et al. 2013 (straight-through estimator).
    public static func vectorQuantized(_ vectors: Tensor, codebook: Tensor, indices: [Int]) -> Tensor {
        precondition(vectors.rank == 2 && codebook.rank == 2 && vectors.shape[1] == codebook.shape[1],
                     "vectorQuantized: vectors \(vectors.shape) (want [N, D]), codebook \(codebook.shape) (want [K, D])")
        let n = vectors.shape[0], d = vectors.shape[1], k = codebook.shape[0]
        precondition(indices.count == n && indices.allSatisfy { (0..<k).contains($0) },
                     "vectorQuantized: need \(n) indices in 0..<\(k)")
        let q = [Float](unsafeUninitializedCapacity: n * d) { out, initialized in
            codebook.data.withUnsafeBufferPointer { e in
                for i in 0..<n { (out.baseAddress! + i * d).update(from: e.baseAddress! + indices[i] * d, count: d) }
            }
            initialized = n * d
        }
        return Tensor(shape: [n, d], data: q, inputs: [vectors]) { out in
            vectors.accumulateGrad(out.grad!)
        }
    }

    /// `vectorQuantized` with the nearest codes: returns the quantised rows and the chosen indices.
    public static func vectorQuantized(_ vectors: Tensor, codebook: Tensor) -> (quantized: Tensor, indices: [Int]) {
        let indices = nearestCodeIndices(vectors, codebook: codebook)
        return (vectorQuantized(vectors, codebook: codebook, indices: indices), indices)
    }
}
