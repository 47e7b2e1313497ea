import COpenBLAS
import Synchronization

/// Whether a matrix operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none, transposed
    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// Single-precision general matrix multiply through OpenBLAS.
public enum BLAS {
    /// Floating-point operations (2 m n k per product) done by `gemm` since the process started, so
    /// benchmarks can report achieved GFLOP/s.
    public static let floatingPointOperations = Atomic<Int>(0)

    /// C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n], all row-major.
    ///
    /// `op(A)` is A (stored [m, k]) or A^T (stored [k, m]); likewise for B. Leading dimensions are the
    /// stored row lengths. With `beta = 1` the product is accumulated into C (used by backward passes).
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=\(m) n=\(n) k=\(k)")
        if m == 0 || n == 0 { return }
        floatingPointOperations.add(2 * m * n * k, ordering: .relaxed)
        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
