import Foundation
@testable import LinearAlgebra
import Testing
@testable import Autodiff

/// The parallel paths only run on large tensors; check them there, against a serial Double reference
/// and across thread counts (results must be bit-identical whatever the thread count).
@Suite(.serialized) struct ParallelTests {
    @Test func sumIsIndependentOfThreadCount() {
        let values = (0..<200_003).map { Double(($0 * 7919) % 1000) * 1e-3 - 0.5 }
        func run(_ threads: Int) -> Double {
            BLASRuntime.threadCount = threads
            return Parallel.sum(values.count) { range in range.reduce(0) { $0 + values[$1] } }
        }
        let one = run(1), two = run(2)
        BLASRuntime.threadCount = 2
        #expect(one == two)
        #expect(abs(one - values.reduce(0, +)) < 1e-6)
    }

    @Test(arguments: [1, 2, 3, 8])
    func forEachBlockVisitsFixedBlocksOnce(workers: Int) {
        let count = 1000, block = 96
        var seen = [Int](repeating: 0, count: count)
        var workerOfBlock = [Int](repeating: -1, count: (count + block - 1) / block)
        seen.withUnsafeMutableBufferPointer { s in
            workerOfBlock.withUnsafeMutableBufferPointer { w in
                Parallel.forEachBlock(count, block: block, workers: workers) { range, worker in
                    #expect(range.lowerBound % block == 0 && (range.count == block || range.upperBound == count))
                    w[range.lowerBound / block] = worker
                    for i in range { s[i] += 1 }
                }
            }
        }
        #expect(seen.allSatisfy { $0 == 1 })
        #expect(workerOfBlock.allSatisfy { (0..<min(workers, 11)).contains($0) })
        Parallel.forEachBlock(0, block: block, workers: workers) { _, _ in Issue.record("no blocks expected") }
    }

    /// OpenBLAS runs one thread per call whatever the program's thread count (ours: `BLAS.gemm` splits products).
    @Test func openBLASStaysSingleThreaded() {
        BLASRuntime.threadCount = 3
        var c = [Float](repeating: 0, count: 4)
        BLAS.gemm(.none, .none, m: 2, n: 2, k: 2, a: [1, 2, 3, 4], lda: 2, b: [1, 0, 0, 1], ldb: 2, c: &c, ldc: 2)
        #expect(c == [1, 2, 3, 4])
        #expect(BLASRuntime.threadCount == 3 && BLASRuntime.liveThreadCount == 1)
        BLASRuntime.threadCount = 2
    }

    @Test func largeBinaryCrossEntropyMatchesReferenceOnAnyThreadCount() {
        var g = SeededGenerator(seed: 11)
        let n = 256 * 784
        let logits = (0..<n).map { _ in g.nextUniform(in: -12, 12) }
        let targets = (0..<n).map { _ in g.nextUniform() }
        func run(_ threads: Int) -> (Float, [Float]) {
            BLASRuntime.threadCount = threads
            let l = Tensor(shape: [256, 784], data: logits, requiresGrad: true)
            let loss = Tensor.binaryCrossEntropy(logits: l, targets: Tensor(shape: [256, 784], data: targets))
            loss.backward()
            return (loss.scalar, l.grad!)
        }
        let (loss1, grad1) = run(1), (loss2, grad2) = run(2)
        BLASRuntime.threadCount = 2
        #expect(loss1 == loss2)
        #expect(zip(grad1, grad2).filter { $0 != $1 }.isEmpty, "gradients differ between 1 and 2 threads")
        var reference = 0.0
        for i in 0..<n {
            let l = Double(logits[i]), t = Double(targets[i])
            reference += max(l, 0) - l * t + log1p(exp(-abs(l)))
            let sigmoid = 1 / (1 + exp(-l))
            #expect(abs(Double(grad1[i]) - (sigmoid - t)) < 1e-6)
        }
        #expect(abs(Double(loss1) - reference) <= 1e-6 * reference)
    }
}

/// The vectorised, row-parallel per-row BCE against the naive scalar loop (glibc exp/log1p, stableSigmoid)
/// it replaced, on a GMVAE-sized input (10 components x 64 images), and bit-identical for 1 and 2 threads.
@Test func binaryCrossEntropyPerRowMatchesNaiveLoopOnAnyThreadCount() {
    var g = SeededGenerator(seed: 12)
    let batch = 64, rows = 10 * batch, pixels = 784 + 3
    let logits = (0..<(rows * pixels)).map { i in i % 89 == 0 ? g.nextUniform(in: -95, 95) : g.nextUniform(in: -12, 12) }
    let targets = (0..<(batch * pixels)).map { _ in g.nextUniform() }
    let upstream = (0..<rows).map { _ in g.nextUniform(in: -2, 2) }
    func run(_ threads: Int) -> ([Float], [Float]) {
        BLASRuntime.threadCount = threads
        let l = Tensor(shape: [rows, pixels], data: logits, requiresGrad: true)
        let out = Tensor.binaryCrossEntropyPerRow(logits: l, targets: Tensor(shape: [batch, pixels], data: targets))
        (out * Tensor(shape: [rows], data: upstream)).sum().backward()
        return (out.data, l.grad!)
    }
    let (values1, grad1) = run(1), (values2, grad2) = run(2)
    BLASRuntime.threadCount = 2
    #expect(values1 == values2)
    #expect(grad1 == grad2, "gradients differ between 1 and 2 threads")
    var worstGradient: Float = 0
    for r in 0..<rows {
        var naive = 0.0
        for p in 0..<pixels {
            let v = logits[r * pixels + p], t = targets[(r % batch) * pixels + p]
            naive += Double(max(v, 0) - v * t + log1p(Foundation.exp(-abs(v))))
            worstGradient = max(worstGradient, abs(grad1[r * pixels + p] - upstream[r] * (stableSigmoid(v) - t)))
        }
        #expect(abs(Double(values1[r]) - naive) <= 1e-6 * naive, "row \(r): \(values1[r]) vs naive \(naive)")
    }
    #expect(worstGradient <= 5e-7, "gradient differs from the naive loop by \(worstGradient)")
}

@Test func allocatorTuningTakesEffectOnGlibc() {
    MemoryTuning.retainFreedMemory()
    #if canImport(Glibc)
    #expect(MemoryTuning.isApplied)
    #endif
}

/// The vectorised, row-parallel softmax cross-entropy (the code prior's loss: 128 codes per position) against naive
/// Double loops, and bit-identical for 1 and 2 threads.
@Test func softmaxCrossEntropyMatchesNaiveLoopOnAnyThreadCount() {
    var g = SeededGenerator(seed: 13)
    let rows = 300, classes = 131
    let logits = (0..<(rows * classes)).map { _ in g.nextUniform(in: -30, 30) }
    let labels = (0..<rows).map { _ in Int(g.next() % UInt64(classes)) }
    func run(_ threads: Int) -> (Float, [Float]) {
        BLASRuntime.threadCount = threads
        let l = Tensor(shape: [rows, classes], data: logits, requiresGrad: true)
        let loss = Tensor.softmaxCrossEntropy(logits: l, labels: labels)
        loss.scaled(by: 0.5).backward()
        return (loss.scalar, l.grad!)
    }
    let (loss1, grad1) = run(1), (loss2, grad2) = run(2)
    BLASRuntime.threadCount = 2
    #expect(loss1 == loss2)
    #expect(grad1 == grad2, "gradients differ between 1 and 2 threads")
    var reference = 0.0
    for b in 0..<rows {
        let row = logits[(b * classes)..<((b + 1) * classes)].map(Double.init)
        let m = row.max()!
        let sum = row.reduce(0) { $0 + exp($1 - m) }
        reference += m + log(sum) - row[labels[b]]
        for c in 0..<classes {
            let expected = 0.5 * (exp(row[c] - m) / sum - (c == labels[b] ? 1 : 0))
            #expect(abs(Double(grad1[b * classes + c]) - expected) < 1e-7, "row \(b), class \(c)")
        }
    }
    #expect(abs(Double(loss1) - reference) <= 1e-6 * reference)
}
