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
        forEachBlock(m: m, n: n, k: k, parallel: parallel) { alongRows, start, count in
            if alongRows {
                let aStart = transA == .none ? a + start * lda : a + start
                cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(count), Int32(n), Int32(k),
                            alpha, aStart, Int32(lda), b, Int32(ldb), beta, c + start * ldc, Int32(ldc))
            } else {
                let bStart = transB == .none ? b + start : b + start * ldb
                cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(count), Int32(k),
                            alpha, a, Int32(lda), bStart, Int32(ldb), beta, c + start, Int32(ldc))
            }
        }
    }

    /// Calls `body(alongRows, start, count)` for each block of `gemmBlocks(m:n:k:)` (rows start..<start+count of
    /// C, or columns), spread over `BLASRuntime.threadCount` workers; one call for the whole product when it is not
    /// split or `parallel` is false.
    static func forEachBlock(m: Int, n: Int, k: Int, parallel: Bool,
                             _ body: (_ alongRows: Bool, _ start: Int, _ count: Int) -> Void) {
        let plan = parallel ? gemmBlocks(m: m, n: n, k: k) : GemmBlocks(alongRows: true, size: m, count: 1)
        let side = plan.alongRows ? m : n
        func run(_ index: Int) {
            let start = index * plan.size
            body(plan.alongRows, start, min(plan.size, side - start))
        }
        let workers = min(BLASRuntime.threadCount, plan.count)
        if workers <= 1 {
            for index in 0..<plan.count { run(index) }
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { w in
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
