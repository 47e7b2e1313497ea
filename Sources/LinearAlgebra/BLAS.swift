import COpenBLAS
import Dispatch
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
    ///
    /// Products of at least `splitThreshold` floating-point operations are cut into `gemmBlocks(m:n:k:)` blocks of
    /// rows (or columns) of C, each one single-threaded OpenBLAS call, spread over `BLASRuntime.threadCount`
    /// workers: the same bits on any thread count. `parallel: false` makes one call on the calling thread (for
    /// callers that already run on a worker).
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool = true
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=\(m) n=\(n) k=\(k)")
        if m == 0 || n == 0 { return }
        BLASRuntime.prepare()
        floatingPointOperations.add(2 * m * n * k, ordering: .relaxed)
        forEachBlock(transA, transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, parallel: parallel) {
            rows, columns, aOffset, bOffset, cOffset in
            cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(rows), Int32(columns), Int32(k),
                        alpha, a + aOffset, Int32(lda), b + bOffset, Int32(ldb), beta, c + cOffset, Int32(ldc))
        }
    }

    /// Calls `body(rows, columns, aOffset, bOffset, cOffset)` for each block of `gemmBlocks(m:n:k:)` (a range of rows
    /// of C, or of columns), with the block's size and where its operands start in A, B and C; the blocks are spread
    /// over `BLASRuntime.threadCount` workers. One call for the whole product when it is not split or `parallel` is
    /// false.
    static func forEachBlock(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                             lda: Int, ldb: Int, ldc: Int, parallel: Bool,
                             _ body: (_ rows: Int, _ columns: Int, _ aOffset: Int, _ bOffset: Int, _ cOffset: Int) -> Void) {
        let plan = parallel ? gemmBlocks(m: m, n: n, k: k) : GemmBlocks(alongRows: true, size: m, count: 1)
        let side = plan.alongRows ? m : n
        func run(_ index: Int) {
            let start = index * plan.size, count = min(plan.size, side - start)
            if plan.alongRows {
                // Rows start..<start + count of op(A) and C.
                body(count, n, transA == .none ? start * lda : start, 0, start * ldc)
            } else {
                // Columns start..<start + count of op(B) and C.
                body(m, count, 0, transB == .none ? start : start * ldb, start)
            }
        }
        let workers = min(BLASRuntime.threadCount, plan.count)
        if workers <= 1 {
            for index in 0..<plan.count { run(index) }
        } else {
            WorkerPool.run(iterations: workers) { w in
                for index in Swift.stride(from: w, to: plan.count, by: workers) { run(index) }
            }
        }
    }

    /// Products below this many floating-point operations (2 m n k) run as one call: waking a worker costs more.
    public static let splitThreshold = 1 << 23

    /// How `gemm` cuts a product: `count` blocks of `size` rows of C (`alongRows`) or columns (the last block
    /// may be smaller).
    public struct GemmBlocks: Equatable, Sendable {
        public var alongRows: Bool
        public var size: Int
        public var count: Int
    }

    /// The blocks of an m x n x k product: along the longer side of C, 2 blocks below 512 rows (or columns), 4 below
    /// 2048, else 8, each rounded up to a multiple of 8 (so the last one may be smaller); one block below
    /// `splitThreshold` or 128 rows. Few, equal blocks: each block packs the whole other operand again, and an even
    /// count keeps two workers equally busy (measured on the MLP's 256 x 400 x 784 products: 6 blocks of 72 and 40
    /// columns left one core idle 7% of the time). Depends only on the shape, so results do not depend on the
    /// thread count.
    public static func gemmBlocks(m: Int, n: Int, k: Int) -> GemmBlocks {
        let alongRows = m >= n
        let side = alongRows ? m : n
        guard 2 * m * n * k >= splitThreshold, side >= 128 else { return GemmBlocks(alongRows: alongRows, size: side, count: 1) }
        let wanted = side < 512 ? 2 : side < 2048 ? 4 : 8
        let size = ((side + wanted - 1) / wanted + 7) / 8 * 8
        return GemmBlocks(alongRows: alongRows, size: size, count: (side + size - 1) / size)
    }
}
