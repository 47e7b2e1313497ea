import Testing
import Autodiff

@Suite struct SeededGeneratorTests {
    @Test func sameSeedSameStream() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xa = (0..<10).map { _ in a.next() }, xb = (0..<10).map { _ in b.next() }
        #expect(xa == xb)
        #expect(xa != (0..<10).map { _ in c.next() })
    }

    @Test func stateRoundTrip() {
        var a = SeededGenerator(seed: 7)
        _ = a.normals(13)
        var b = SeededGenerator(state: a.state)
        #expect(a.normals(5) == b.normals(5))
    }

    @Test func normalMomentsAndUniformRange() {
        var g = SeededGenerator(seed: 1)
        let x = g.normals(200_000).map(Double.init)
        let mean = x.reduce(0, +) / Double(x.count)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count - 1)
        #expect(abs(mean) < 0.01 && abs(variance - 1) < 0.01, "mean \(mean), variance \(variance)")
        let u = (0..<10_000).map { _ in g.nextUniform() }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    @Test func permutationIsAPermutation() {
        var g = SeededGenerator(seed: 3)
        let p = g.permutation(1000)
        #expect(p.sorted() == Array(0..<1000))
        #expect(p != Array(0..<1000))
    }
}
