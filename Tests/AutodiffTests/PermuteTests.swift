import Testing
@testable import Autodiff

// The batched-transpose fast path of `permuted` against the naive index map (`naivePermute`), value for value.

@Suite struct PermuteTests {
    /// Which permutations are batches of matrix transposes, and of which matrices.
    @Test func transposeBlocksRecognisesSwappedAxisGroups() {
        func blocks(_ shape: [Int], _ axes: [Int]) -> [Int]? {
            Tensor.transposeBlocks(shape: shape, axes: axes).map { [$0.outer, $0.rows, $0.columns] }
        }
        #expect(blocks([2, 3, 4, 5], [0, 2, 3, 1]) == [2, 3, 20])   // NCHW -> NHWC
        #expect(blocks([2, 4, 5, 3], [0, 3, 1, 2]) == [2, 20, 3])   // NHWC -> NCHW
        #expect(blocks([3, 5], [1, 0]) == [1, 3, 5])
        #expect(blocks([2, 3, 4], [2, 0, 1]) == [1, 6, 4])
        #expect(blocks([2, 3, 4, 2], [0, 2, 1, 3]) == nil)
        #expect(blocks([2, 3, 2, 3], [3, 1, 2, 0]) == nil)
        #expect(blocks([4, 3], [0, 1]) == nil)
    }

    /// The VQ-VAE's permutations at its training shape (over the workers): the values, and the gradient both when
    /// the input's gradient is new and when it adds to another use's.
    @Test(arguments: [([256, 16, 7, 7], [0, 2, 3, 1]), ([256, 7, 7, 16], [0, 3, 1, 2])], [false, true])
    func batchedTransposeMatchesTheIndexMap(_ layout: ([Int], [Int]), inputUsedTwice: Bool) {
        let (shape, axes) = layout
        let n = shape.reduce(1, *)
        var g = SeededGenerator(seed: 21)
        let values = (0..<n).map { _ in g.nextUniform(in: -1, 1) }
        let upstream = (0..<n).map { _ in g.nextUniform(in: -1, 1) }
        let other = (0..<n).map { _ in g.nextUniform(in: -1, 1) }
        let x = Tensor(shape: shape, data: values, requiresGrad: true)
        let y = x.permuted(axes)
        #expect(y.shape == axes.map { shape[$0] })
        #expect(y.data == naivePermute(values.map(Double.init), shape: shape, axes: axes).map(Float.init))
        var loss = (y * Tensor(shape: y.shape, data: upstream)).sum()
        if inputUsedTwice { loss = loss + (x * Tensor(shape: shape, data: other)).sum() }
        loss.backward()
        // dx = the inverse permutation of the upstream gradient (+ the other use's gradient).
        var inverse = [Int](repeating: 0, count: axes.count)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        let back = naivePermute(upstream.map(Double.init), shape: y.shape, axes: inverse).map(Float.init)
        let expected = inputUsedTwice ? zip(back, other).map { $0 + $1 } : back
        #expect(x.grad! == expected)
    }
}
