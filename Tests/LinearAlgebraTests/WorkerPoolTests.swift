import Dispatch
import Foundation
import Synchronization
import Testing
@testable import LinearAlgebra

@Suite struct WorkerPoolTests {
    /// Every iteration runs exactly once, over many back-to-back loops of several sizes (helpers spinning, helpers
    /// woken from sleep, loops that end before a helper arrives).
    @Test func everyIterationRunsOnceInBackToBackLoops() {
        // One slot per iteration index: a loop runs index i on one thread, and loops follow each other.
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        counts.initialize(repeating: 0, count: 64)
        defer { counts.deallocate() }
        var expected = [Int](repeating: 0, count: 64)
        for round in 0..<20_000 {
            let iterations = [2, 3, 8, 64, 1, 0][round % 6]   // more iterations than threads: several per thread
            WorkerPool.run(iterations: iterations) { i in counts[i] += 1 }
            for i in 0..<iterations { expected[i] += 1 }
            if round == 10_000 {
                // Let the helpers fall asleep, so the next loop has to wake them.
                usleep(useconds_t(3 * WorkerPool.spinMicroseconds))
            }
        }
        #expect((0..<64).map { counts[$0] } == expected)
    }

    /// A loop started from inside a loop, and loops started from several threads at once, still run every
    /// iteration once (on their calling thread when the pool is taken).
    @Test func nestedAndConcurrentLoopsRunEveryIteration() {
        let total = Atomic<Int>(0)
        WorkerPool.run(iterations: 4) { _ in
            WorkerPool.run(iterations: 5) { i in total.add(i + 1, ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == 4 * 15)
        let concurrent = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<500 {
                WorkerPool.run(iterations: 3) { i in concurrent.add(i + 1, ordering: .relaxed) }
            }
        }
        #expect(concurrent.load(ordering: .relaxed) == 4 * 500 * 6)
    }
}
