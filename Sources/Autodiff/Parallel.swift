import Dispatch
import LinearAlgebra

/// Data-parallel loops over the worker threads (as many as BLAS uses, `BLASRuntime.threadCount`).
///
/// Results never depend on the thread count: element-wise loops write disjoint ranges, and reductions
/// are split into blocks whose boundaries depend only on the element count, summed in block order.
public enum Parallel {
    /// Below this many elements a loop runs on the calling thread: waking workers costs more.
    public static let minimumParallelCount = 32_768

    static var workers: Int { max(1, BLASRuntime.threadCount) }

    /// Calls `body` on disjoint ranges covering 0..<count, in parallel when `count * itemSize` (the elements
    /// touched, for items such as rows of `itemSize` elements) is large enough.
    public static func forEachRange(_ count: Int, itemSize: Int = 1, _ body: (Range<Int>) -> Void) {
        let workers = count * itemSize >= minimumParallelCount ? min(self.workers, count) : 1
        if workers == 1 { body(0..<count); return }
        let chunk = (count + workers - 1) / workers
        WorkerPool.run(iterations: workers) { w in
            let start = w * chunk
            if start < count { body(start..<min(count, start + chunk)) }
        }
    }

    /// Calls `body(range, worker)` for the fixed blocks [b * block, min(count, (b + 1) * block)) of 0..<count, spread
    /// over `workers` threads (worker w takes blocks w, w + workers, ...; `worker` indexes per-thread scratch). The
    /// blocks depend only on `count` and `block`, so work that writes per-block results gives the same values for
    /// any number of workers. BLAS calls inside `body` should pass `parallel: false`: the workers are busy.
    public static func forEachBlock(_ count: Int, block: Int, workers: Int, _ body: (_ range: Range<Int>, _ worker: Int) -> Void) {
        precondition(block >= 1 && workers >= 1, "Parallel.forEachBlock: block \(block) and workers \(workers) must be >= 1")
        let blocks = (count + block - 1) / block
        let used = min(workers, blocks)
        func run(_ w: Int) {
            for b in stride(from: w, to: blocks, by: used) { body((b * block)..<min(count, (b + 1) * block), w) }
        }
        if used <= 1 { if blocks > 0 { run(0) }; return }
        WorkerPool.run(iterations: used) { run($0) }
    }

    /// Sum of `partial(range)` over fixed blocks of 0..<count, added in block order: the same value for
    /// any thread count.
    public static func sum(_ count: Int, block: Int = 16_384, _ partial: (Range<Int>) -> Double) -> Double {
        let blocks = (count + block - 1) / block
        if blocks <= 1 { return partial(0..<count) }
        var sums = [Double](repeating: 0, count: blocks)
        let workers = count >= minimumParallelCount ? self.workers : 1
        sums.withUnsafeMutableBufferPointer { s in
            let base = s.baseAddress!
            WorkerPool.run(iterations: workers) { w in
                for b in stride(from: w, to: blocks, by: workers) {
                    base[b] = partial((b * block)..<min(count, (b + 1) * block))
                }
            }
        }
        return sums.reduce(0, +)
    }
}
