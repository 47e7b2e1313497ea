import Dispatch
import Foundation
import Synchronization

/// The threads that run the parallel loops (`Parallel` in Autodiff) and the blocks of split BLAS products: the
/// calling thread plus helper threads that spin for a short while between loops before they sleep.
///
/// `run(iterations:_:)` is `DispatchQueue.concurrentPerform` without its wake-up cost. A training step is dozens of
/// short parallel loops; with GCD every loop woke a sleeping worker through the kernel (vae_std_z20 on 2 threads:
/// ~27 context switches per step, and one core idle for ~20% of the epoch). Here a helper that has just finished
/// a loop spins (up to `spinMicroseconds`) waiting for the next one, so back-to-back loops start without a system
/// call; a helper that waited longer sleeps on a condition variable and is woken by the next loop.
///
/// One loop at a time: a loop started while another runs (from one of its iterations, or from another thread, as
/// when tests run side by side) runs on its calling thread alone. The iterations a loop gives each thread never
/// change results: every caller's blocks are fixed by its shapes, not by which thread runs them.
public enum WorkerPool {
    /// How long a helper spins for the next loop before sleeping.
    public static let spinMicroseconds: UInt64 = 200

    /// Calls `body(i)` once for each i in 0..<iterations, spread over the calling thread and up to
    /// `iterations - 1` helpers, and returns when all calls have returned.
    public static func run(iterations: Int, _ body: (Int) -> Void) {
        if iterations <= 1 { if iterations == 1 { body(0) }; return }
        shared.run(iterations: iterations, body)
    }

    private static let shared = Pool()
}

/// The pool behind `WorkerPool`. The state of the running loop is one atomic word, generation (high 32 bits),
/// iteration count (next 16) and next unclaimed iteration (low 16): a thread claims an iteration by a
/// compare-and-exchange that also checks the generation, so a helper that wakes late can never claim an iteration
/// of a loop that has ended or start one of the next loop with the old loop's body.
private final class Pool: @unchecked Sendable {
    // Sendable: shared state is atomics only; `job` is dereferenced only while `pending > 0` keeps its frame alive.
    private let word = Atomic<UInt64>(0)
    /// Iterations of the running loop not yet finished.
    private let pending = Atomic<Int>(0)
    /// The running loop's body: the address of a `Job` on the calling thread's stack, valid while `pending > 0`.
    private let job = Atomic<UInt>(0)
    /// Whether a loop is running (a loop started meanwhile runs on its caller alone).
    private let busy = Atomic<Bool>(false)
    private let wakeUp = NSCondition()
    /// Helper threads started (guarded by `wakeUp`).
    private var helpers = 0

    private struct Job { let body: (Int) -> Void }

    /// Helpers beyond the cores would only spin against each other: a loop with more iterations than threads has
    /// each thread claim several.
    private static let processors = max(2, ProcessInfo.processInfo.activeProcessorCount)

    private static func generation(_ w: UInt64) -> UInt64 { w >> 32 }
    private static func count(_ w: UInt64) -> Int { Int((w >> 16) & 0xffff) }
    private static func next(_ w: UInt64) -> Int { Int(w & 0xffff) }

    func run(iterations: Int, _ body: (Int) -> Void) {
        guard iterations < 0x10000, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for i in 0..<iterations { body(i) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        startHelpers(min(iterations, Self.processors) - 1)
        withoutActuallyEscaping(body) { body in
            var current = Job(body: body)
            withUnsafePointer(to: &current) { pointer in
                job.store(UInt(bitPattern: pointer), ordering: .relaxed)
                pending.store(iterations, ordering: .relaxed)
                let generation = Self.generation(word.load(ordering: .relaxed)) &+ 1
                word.store((generation & 0xffff_ffff) << 32 | UInt64(iterations) << 16, ordering: .releasing)
                wakeUp.lock(); wakeUp.broadcast(); wakeUp.unlock()
                work(generation: generation & 0xffff_ffff)
                while pending.load(ordering: .acquiring) > 0 {}
            }
        }
    }

    /// Claims and runs iterations of loop `generation` until none is left.
    private func work(generation: UInt64) {
        var w = word.load(ordering: .acquiring)
        while Self.generation(w) == generation && Self.next(w) < Self.count(w) {
            let (exchanged, original) = word.compareExchange(expected: w, desired: w + 1, ordering: .acquiringAndReleasing)
            if !exchanged { w = original; continue }
            let pointer = UnsafePointer<Job>(bitPattern: job.load(ordering: .relaxed))!
            pointer.pointee.body(Self.next(w))
            pending.subtract(1, ordering: .releasing)
            w = word.load(ordering: .acquiring)
        }
    }

    private func startHelpers(_ wanted: Int) {
        wakeUp.lock(); defer { wakeUp.unlock() }
        while helpers < wanted {
            helpers += 1
            let thread = Thread { [self] in helperLoop() }
            thread.name = "vae-worker-\(helpers)"
            thread.start()
        }
    }

    private func helperLoop() {
        var seen = Self.generation(word.load(ordering: .acquiring))
        while true {
            // Spin for the next loop, then sleep until it starts.
            let deadline = DispatchTime.now().uptimeNanoseconds + WorkerPool.spinMicroseconds * 1000
            var spins = 0
            while Self.generation(word.load(ordering: .acquiring)) == seen {
                spins &+= 1
                if spins & 63 == 0 && DispatchTime.now().uptimeNanoseconds > deadline {
                    wakeUp.lock()
                    while Self.generation(word.load(ordering: .acquiring)) == seen { wakeUp.wait() }
                    wakeUp.unlock()
                    break
                }
            }
            seen = Self.generation(word.load(ordering: .acquiring))
            work(generation: seen)
        }
    }
}
