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
