import Testing
@testable import LinearAlgebra

@Suite struct BLASTests {
    /// gemm against a naive triple loop for every transpose combination, with and without accumulation.
    @Test(arguments: [(Transpose.none, Transpose.none), (.none, .transposed), (.transposed, .none), (.transposed, .transposed)],
          [Float(0), 1])
    func gemmMatchesNaiveLoops(transposes: (Transpose, Transpose), beta: Float) {
        let (ta, tb) = transposes
        let m = 7, n = 5, k = 9
        let a = (0..<(m * k)).map { Float(($0 * 37) % 11) / 7 - 0.6 }
        let b = (0..<(k * n)).map { Float(($0 * 53) % 13) / 9 - 0.5 }
        let c0 = (0..<(m * n)).map { Float($0 % 5) - 2 }
        // Element (i, p) of op(A) and (p, j) of op(B), from the stored layouts.
        func opA(_ i: Int, _ p: Int) -> Float { ta == .none ? a[i * k + p] : a[p * m + i] }
        func opB(_ p: Int, _ j: Int) -> Float { tb == .none ? b[p * n + j] : b[j * k + p] }
        var expected = c0.map { beta * $0 }
        for i in 0..<m { for j in 0..<n { for p in 0..<k { expected[i * n + j] += opA(i, p) * opB(p, j) } } }
        var c = c0
        BLAS.gemm(ta, tb, m: m, n: n, k: k, a: a, lda: ta == .none ? k : m, b: b, ldb: tb == .none ? n : k,
                  beta: beta, c: &c, ldc: n)
        for i in 0..<(m * n) { #expect(abs(c[i] - expected[i]) < 1e-4, "C[\(i)] \(c[i]) vs \(expected[i])") }
    }

    /// Products large enough to be cut into blocks (along rows and along columns of C, every transpose, with
    /// accumulation, leading dimensions wider than the operands) against naive Double loops, and bit-identical for
    /// 1, 2 and 3 worker threads (the blocks depend only on the shape).
    @Test(arguments: [(Transpose.none, Transpose.none), (.none, .transposed), (.transposed, .none), (.transposed, .transposed)],
          [(m: 300, n: 40, k: 700), (m: 24, n: 410, k: 900)])
    func blockedGemmMatchesNaiveLoopsOnAnyThreadCount(transposes: (Transpose, Transpose), size: (m: Int, n: Int, k: Int)) {
        let (ta, tb) = transposes
        let (m, n, k) = size
        let plan = BLAS.gemmBlocks(m: m, n: n, k: k)
        #expect(plan.count > 1 && plan.alongRows == (m >= n))
        // Stored operands with 3 spare columns each, to exercise the leading dimensions.
        let (aRows, aColumns) = ta == .none ? (m, k) : (k, m)
        let (bRows, bColumns) = tb == .none ? (k, n) : (n, k)
        let lda = aColumns + 3, ldb = bColumns + 3, ldc = n + 3
        let a = (0..<(aRows * lda)).map { Float(($0 * 37) % 101) / 50 - 1 }
        let b = (0..<(bRows * ldb)).map { Float(($0 * 53) % 89) / 44 - 1 }
        let c0 = (0..<(m * ldc)).map { Float($0 % 7) - 3 }
        func opA(_ i: Int, _ p: Int) -> Double { Double(ta == .none ? a[i * lda + p] : a[p * lda + i]) }
        func opB(_ p: Int, _ j: Int) -> Double { Double(tb == .none ? b[p * ldb + j] : b[j * ldb + p]) }
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            BLASRuntime.threadCount = threads
            var c = c0
            BLAS.gemm(ta, tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: &c, ldc: ldc)
            results.append(c)
        }
        BLASRuntime.threadCount = 2
        #expect(results[1] == results[0] && results[2] == results[0])
        var worst = 0.0
        for i in 0..<m { for j in 0..<ldc {
            var expected = Double(c0[i * ldc + j])
            if j < n { for p in 0..<k { expected += 0.5 * opA(i, p) * opB(p, j) } }
            worst = max(worst, abs(Double(results[0][i * ldc + j]) - expected) / max(1, abs(expected)))
        } }
        #expect(worst < 1e-5, "worst relative error \(worst)")
    }

    /// The blocks cover the longer side of C exactly, in multiples of 8 but the last; small products stay whole.
    @Test func gemmBlocksCoverTheLongerSide() {
        for (m, n, k) in [(256, 400, 784), (256, 784, 400), (400, 256, 20), (2048, 2048, 2048), (64, 490, 512), (128, 128, 256)] {
            let plan = BLAS.gemmBlocks(m: m, n: n, k: k)
            let side = plan.alongRows ? m : n
            #expect(plan.alongRows == (m >= n))
            #expect(plan.size * (plan.count - 1) < side && plan.size * plan.count >= side, "\(m)x\(n)x\(k): \(plan)")
            if plan.count > 1 { #expect(plan.size % 8 == 0 && (2...8).contains(plan.count), "\(m)x\(n)x\(k): \(plan)") }
        }
        #expect(BLAS.gemmBlocks(m: 20, n: 30, k: 40).count == 1)
        #expect(BLAS.gemmBlocks(m: 256, n: 200, k: 784) == BLAS.GemmBlocks(alongRows: true, size: 128, count: 2))
        #expect(BLAS.gemmBlocks(m: 256, n: 784, k: 400) == BLAS.GemmBlocks(alongRows: false, size: 200, count: 4))
    }

    /// dtrsm against naive substitution: op(A) X = alpha B (left) or X op(A) = alpha B (right), checked by
    /// multiplying the solution back with naive loops, for both triangles, both transposes and both sides.
    @Test(arguments: [Side.left, .right], [Triangle.lower, .upper])
    func dtrsmSolvesTriangularSystems(side: Side, triangle: Triangle) {
        for trans in [Transpose.none, .transposed] {
            for unit in [false, true] {
                let m = 6, n = 4
                let size = side == .left ? m : n
                // A triangular with a well-conditioned diagonal; the other triangle holds garbage that must not be read.
                var a = [Double](repeating: 0, count: size * size)
                for i in 0..<size { for j in 0..<size {
                    let inside = triangle == .lower ? j <= i : j >= i
                    a[i * size + j] = inside ? (i == j ? 2 + Double(i) * 0.25 : Double((i * 7 + j * 3) % 5) / 4 - 0.5) : 1e6
                } }
                let b = (0..<(m * n)).map { Double(($0 * 13) % 17) / 8 - 1 }
                var x = b
                BLAS.dtrsm(side, triangle, trans, unitDiagonal: unit, m: m, n: n, alpha: 0.5, a: a, lda: size, b: &x, ldb: n)
                // op(A)[i, j] as the routine sees it.
                func opA(_ i: Int, _ j: Int) -> Double {
                    let (r, c) = trans == .none ? (i, j) : (j, i)
                    if r == c { return unit ? 1 : a[r * size + c] }
                    return (triangle == .lower ? c < r : c > r) ? a[r * size + c] : 0
                }
                for i in 0..<m { for j in 0..<n {
                    var v = 0.0
                    if side == .left { for p in 0..<m { v += opA(i, p) * x[p * n + j] } }
                    else { for p in 0..<n { v += x[i * n + p] * opA(p, j) } }
                    #expect(abs(v - 0.5 * b[i * n + j]) < 1e-12, "\(side) \(triangle) \(trans) unit \(unit) (\(i), \(j)): \(v)")
                } }
            }
        }
    }

    @Test func symmetricEigenReconstructs() throws {
        let n = 4
        var s = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { s[i * n + j] = 1.0 / Double(i + j + 1) + (i == j ? 1 : 0) } }
        let eigen = try SymmetricEigen(symmetric: s, n: n)
        #expect(eigen.values == eigen.values.sorted())
        let back = eigen.reconstructed { $0 }
        for i in 0..<(n * n) { #expect(abs(back[i] - s[i]) < 1e-12) }
        let root = eigen.reconstructed { $0.squareRoot() }
        for i in 0..<n { for j in 0..<n {
            let square = (0..<n).reduce(0.0) { $0 + root[i * n + $1] * root[$1 * n + j] }
            #expect(abs(square - s[i * n + j]) < 1e-12)
        } }
    }

    @Test func fastKernelDetectionIsConsistent() {
        // Whatever the CPU, detection must not claim AVX-512 the kernel does not list.
        #expect(BLASRuntime.cpuHasAVX512 == CPUFeatures.flags.contains("avx512f") && CPUFeatures.flags.contains("avx512bw")
                && CPUFeatures.flags.contains("avx512vl") && CPUFeatures.flags.contains("avx512dq") && CPUFeatures.flags.contains("avx512cd"))
    }
}
