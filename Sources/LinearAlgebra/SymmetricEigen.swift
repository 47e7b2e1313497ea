import COpenBLAS

/// Errors from LAPACK routines.
public enum LinearAlgebraError: Error, CustomStringConvertible, Equatable {
    case eigenFailed(info: Int32)

    public var description: String {
        switch self {
        case .eigenFailed(let info):
            return "symmetric eigendecomposition did not converge (LAPACK dsyevd info=\(info)); the matrix may contain NaN or Inf"
        }
    }
}

/// Eigendecomposition of a real symmetric matrix in Double, S = V diag(w) V^T (LAPACK `dsyevd`).
public struct SymmetricEigen {
    /// Eigenvalues in ascending order, [n].
    public let values: [Double]
    /// Eigenvectors as columns of a row-major [n, n] matrix: `vectors[i * n + j]` is component i of vector j.
    public let vectors: [Double]
    public let n: Int

    /// Decomposes the symmetric row-major matrix `matrix` [n, n]. Only symmetry is assumed; the
    /// lower triangle (in row-major terms) is read.
    public init(symmetric matrix: [Double], n: Int) throws {
        precondition(matrix.count == n * n, "SymmetricEigen: \(matrix.count) values for an \(n)x\(n) matrix")
        precondition(!matrix.contains { !$0.isFinite }, "SymmetricEigen: matrix contains NaN or Inf")
        self.n = n
        // LAPACK is column-major: a row-major symmetric matrix is its own transpose, and the returned
        // column-major eigenvector matrix read row-major is V^T; transpose it back below.
        var a = matrix
        var w = [Double](repeating: 0, count: n)
        var info: Int32 = 0
        var nn = Int32(n), lda = Int32(max(n, 1))
        var lworkQuery: Int32 = -1, liworkQuery: Int32 = -1
        var workSize = 0.0
        var iworkSize: Int32 = 0
        BLASRuntime.prepare()
        dsyevd_("V", "U", &nn, &a, &lda, &w, &workSize, &lworkQuery, &iworkSize, &liworkQuery, &info)
        guard info == 0 else { throw LinearAlgebraError.eigenFailed(info: info) }
        var lwork = Int32(workSize)
        var liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_("V", "U", &nn, &a, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw LinearAlgebraError.eigenFailed(info: info) }
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { v[i * n + j] = a[j * n + i] } }
        values = w
        vectors = v
    }

    /// V diag(f(w)) V^T as a row-major [n, n] matrix, e.g. the matrix square root with f = sqrt(max(0, w)).
    public func reconstructed(applying f: (Double) -> Double) -> [Double] {
        var scaled = vectors
        for j in 0..<n {
            let fj = f(values[j])
            for i in 0..<n { scaled[i * n + j] *= fj }
        }
        var result = [Double](repeating: 0, count: n * n)
        scaled.withUnsafeBufferPointer { s in
            vectors.withUnsafeBufferPointer { v in
                result.withUnsafeMutableBufferPointer { r in
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(n), Int32(n), 1,
                                s.baseAddress, Int32(n), v.baseAddress, Int32(n), 0, r.baseAddress, Int32(n))
                }
            }
        }
        return result
    }
}
