import COpenBLAS

/// Which triangle of a symmetric matrix a routine reads or writes (row-major terms).
public enum Triangle: Sendable {
    case upper, lower
    var cblas: CBLAS_UPLO { self == .upper ? CblasUpper : CblasLower }
}

/// On which side of the unknown matrix a triangular factor stands in `dtrsm`.
public enum Side: Sendable {
    /// op(A) X = alpha B.
    case left
    /// X op(A) = alpha B.
    case right
    var cblas: CBLAS_SIDE { self == .left ? CblasLeft : CblasRight }
}

extension BLAS {
    /// Double-precision C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n], all row-major
    /// (OpenBLAS `cblas_dgemm`).
    ///
    /// `op(A)` is A (stored [m, k]) or A^T (stored [k, m]); likewise for B. Leading dimensions are the
    /// stored row lengths. With `beta = 1` the product is accumulated into C. Large products are cut into
    /// blocks over the workers as in `gemm` (`parallel: false` for callers already on a worker).
    public static func dgemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Double = 1, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int, parallel: Bool = true
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "dgemm: negative size m=\(m) n=\(n) k=\(k)")
        if m == 0 || n == 0 { return }
        BLASRuntime.prepare()
        forEachBlock(transA, transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, parallel: parallel) {
            rows, columns, aOffset, bOffset, cOffset in
            cblas_dgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(rows), Int32(columns), Int32(k),
                        alpha, a + aOffset, Int32(lda), b + bOffset, Int32(ldb), beta, c + cOffset, Int32(ldc))
        }
    }

    /// Double-precision symmetric rank-k update, row-major (OpenBLAS `cblas_dsyrk`):
    /// C[n, n] = alpha * op(A) * op(A)^T + beta * C, where op(A) is A (stored [n, k], giving A A^T)
    /// or A^T (A stored [k, n], giving A^T A, e.g. a scatter matrix of k rows of n features).
    ///
    /// Only the `triangle` of C is read and written; the other triangle is left untouched
    /// (use `symmetrize(_:n:from:)` to fill it).
    public static func dsyrk(
        _ triangle: Triangle, _ trans: Transpose, n: Int, k: Int,
        alpha: Double = 1, a: UnsafePointer<Double>, lda: Int,
        beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        precondition(n >= 0 && k >= 0, "dsyrk: negative size n=\(n) k=\(k)")
        if n == 0 { return }
        BLASRuntime.prepare()
        cblas_dsyrk(CblasRowMajor, triangle.cblas, trans.cblas, Int32(n), Int32(k),
                    alpha, a, Int32(lda), beta, c, Int32(ldc))
    }

    /// Double-precision triangular solve, row-major (OpenBLAS `cblas_dtrsm`): overwrites B[m, n] with the X that
    /// solves op(A) X = alpha B (`side` .left, A [m, m]) or X op(A) = alpha B (`side` .right, A [n, n]), where A is
    /// triangular (only its `triangle` is read) and op(A) is A or A^T. With a unit diagonal the diagonal of A is
    /// not read and taken as 1.
    ///
    /// Example: with L lower triangular [d, d] and B = I, `dtrsm(.left, .lower, .none, ...)` gives L^-1; with the
    /// rows of B [m, d] being vectors v, `dtrsm(.right, .lower, .transposed, ...)` replaces each row by L^-1 v.
    public static func dtrsm(
        _ side: Side, _ triangle: Triangle, _ transA: Transpose, unitDiagonal: Bool = false, m: Int, n: Int,
        alpha: Double = 1, a: UnsafePointer<Double>, lda: Int, b: UnsafeMutablePointer<Double>, ldb: Int
    ) {
        precondition(m >= 0 && n >= 0, "dtrsm: negative size m=\(m) n=\(n)")
        if m == 0 || n == 0 { return }
        BLASRuntime.prepare()
        cblas_dtrsm(CblasRowMajor, side.cblas, triangle.cblas, transA.cblas, unitDiagonal ? CblasUnit : CblasNonUnit,
                    Int32(m), Int32(n), alpha, a, Int32(lda), b, Int32(ldb))
    }

    /// Copies the `triangle` of the row-major [n, n] matrix `c` onto the other triangle, so that a
    /// `dsyrk` result becomes a full symmetric matrix.
    public static func symmetrize(_ c: UnsafeMutablePointer<Double>, n: Int, from triangle: Triangle) {
        for i in 0..<n {
            for j in (i + 1)..<n {
                if triangle == .upper { c[j * n + i] = c[i * n + j] } else { c[i * n + j] = c[j * n + i] }
            }
        }
    }
}
