import Autodiff
import Foundation
@testable import Models
import Optimizers
import Testing
import TestSupport

/// The VQ-VAE's parts against hand computations: EMA codebook step, nearest-code search, dead-code
/// re-initialisation, the per-position prior, and sampling.
@Suite struct VQVAETests {
    static func makeModel(seed: UInt64 = 1) throws -> VQVAE {
        var g = SeededGenerator(seed: seed)
        return try #require(try ModelFactory.make(try ShippedStudy.configuration("vq_vae"), generator: &g) as? VQVAE)
    }

    /// A codebook with the given state (decay 0.5 so that the hand computation stays readable).
    static func codebook(_ codes: [[Float]], clusterSize: [Float], embeddingSum: [[Float]], decay: Float = 0.5) -> EMACodebook {
        var g = SeededGenerator(seed: 0)
        let book = EMACodebook(codes: codes.count, size: codes[0].count, decay: decay, generator: &g)
        book.codebook.data = codes.flatMap { $0 }
        book.clusterSize.data = clusterSize
        book.embeddingSum.data = embeddingSum.flatMap { $0 }
        return book
    }

    @Test func emaUpdateMatchesHandComputedStep() {
        let book = Self.codebook([[0, 0], [10, 10], [-5, 5]], clusterSize: [4, 1, 2],
                                 embeddingSum: [[2, 2], [10, 10], [-8, 8]])
        // Vectors 0 and 1 go to code 0, vector 2 to code 1, none to code 2.
        let vectors = Tensor(shape: [3, 2], data: [1, 1, 3, 1, 9, 9])
        book.update(vectors: vectors, indices: [0, 0, 1])
        // Counts n = [2, 1, 0], sums s = [[4, 2], [9, 9], [0, 0]].
        // N = 0.5 [4, 1, 2] + 0.5 [2, 1, 0] = [3, 1, 1]; total 5.
        let expectedSize: [Double] = [3, 1, 1]
        for (ours, theirs) in zip(book.clusterSize.data, expectedSize) { #expect(abs(Double(ours) - theirs) < 1e-6) }
        // m = 0.5 m + 0.5 s = [[3, 2], [9.5, 9.5], [-4, 4]].
        let expectedSum: [Double] = [3, 2, 9.5, 9.5, -4, 4]
        for (ours, theirs) in zip(book.embeddingSum.data, expectedSum) { #expect(abs(Double(ours) - theirs) < 1e-6) }
        // Laplace-smoothed sizes (N_k + eps) / (5 + 3 eps) * 5, codes m_k / smoothed_k.
        let eps = 1e-5
        let smoothed = expectedSize.map { ($0 + eps) / (5 + 3 * eps) * 5 }
        let expectedCodes = (0..<6).map { expectedSum[$0] / smoothed[$0 / 2] }
        for (ours, theirs) in zip(book.codebook.data, expectedCodes) {
            #expect(abs(Double(ours) - theirs) < 1e-5 * max(1, abs(theirs)), "\(ours) vs \(theirs)")
        }
        // Without smoothing these would be exactly [1, 2/3], [9.5, 9.5], [-4, 4]: eps only nudges them.
        #expect(abs(book.codebook.data[1] - 2.0 / 3.0) < 1e-4 && abs(book.codebook.data[4] + 4) < 1e-4)
    }

    @Test func emaUpdateHappensInTheTrainingLoss() throws {
        let model = try Self.makeModel()
        let sizeBefore = model.quantizer.clusterSize.data
        #expect(sizeBefore.allSatisfy { $0 == 0 })   // every code starts dead
        var g = SeededGenerator(seed: 3)
        let x = ModelTests.tinyBatch(6)
        _ = model.loss(x, generator: &g)
        // The first step revives all K codes (size 1 each), then one EMA step with 6 * 49 assignments:
        // sum N = 0.99 K + 0.01 * 294.
        let k = Double(model.configuration.codebookSize)
        let total = model.quantizer.clusterSize.data.reduce(0.0) { $0 + Double($1) }
        #expect(abs(total - (0.99 * k + 0.01 * 294)) < 1e-3, "sum of cluster sizes \(total)")
        // The codebook moved: encoding is no longer what it was with the initial codebook.
        let codebookAfterOne = model.codebook.data
        _ = model.loss(x, generator: &g)
        #expect(model.codebook.data != codebookAfterOne)
    }

    @Test func nearestCodeAssignmentMatchesBruteForce() {
        var g = SeededGenerator(seed: 11)
        let n = 300, k = 37, d = 16
        let vectors = Tensor(shape: [n, d], data: g.normals(n * d))
        let codebook = Tensor(shape: [k, d], data: g.normals(k * d))
        let (quantized, indices) = Tensor.vectorQuantized(vectors, codebook: codebook)
        func distance(_ i: Int, _ j: Int) -> Double {
            (0..<d).reduce(0.0) { let t = Double(vectors.data[i * d + $1]) - Double(codebook.data[j * d + $1]); return $0 + t * t }
        }
        for i in 0..<n {
            var best = 0
            for j in 1..<k where distance(i, j) < distance(i, best) { best = j }
            // Equal unless the two distances agree to Float precision.
            #expect(indices[i] == best || abs(distance(i, indices[i]) - distance(i, best)) < 1e-4,
                    "vector \(i): nearest \(best) (\(distance(i, best))), got \(indices[i]) (\(distance(i, indices[i])))")
            #expect(Array(quantized.data[(i * d)..<((i + 1) * d)]) == Array(codebook.data[(indices[i] * d)..<((indices[i] + 1) * d)]))
        }
        // Exact ties (small integers: exact arithmetic) go to the lowest index.
        let tied = Tensor(shape: [4, 2], data: [5, 5, 1, 0, 1, 0, 0, 3])
        #expect(Tensor.nearestCodeIndices(Tensor(shape: [2, 2], data: [1, 0, 0, 2]), codebook: tied) == [1, 3])
    }

    @Test func deadCodesAreReinitialisedFromEncoderOutputs() {
        let book = Self.codebook([[0, 0], [1, 1], [2, 2], [3, 3]], clusterSize: [5, 0.5, 3, 0.2],
                                 embeddingSum: [[0, 0], [1, 1], [6, 6], [3, 3]], decay: 0.99)
        let vectors = Tensor(shape: [10, 2], data: (0..<20).map { Float(100 + $0) })
        var g = SeededGenerator(seed: 7)
        let revived = book.reinitializeDeadCodes(from: vectors, generator: &g)
        #expect(revived == [1, 3])
        let rows = (0..<10).map { Array(vectors.data[($0 * 2)..<($0 * 2 + 2)]) }
        for code in revived {
            let row = Array(book.codebook.data[(code * 2)..<(code * 2 + 2)])
            #expect(rows.contains(row), "code \(code) = \(row) is not an encoder output")
            #expect(book.clusterSize.data[code] == 1)
            #expect(Array(book.embeddingSum.data[(code * 2)..<(code * 2 + 2)]) == row)
        }
        // Live codes are untouched.
        #expect(Array(book.codebook.data[0..<2]) == [0, 0] && Array(book.codebook.data[4..<6]) == [2, 2])
        #expect(book.clusterSize.data[0] == 5 && book.clusterSize.data[2] == 3)
        // Nothing is dead now.
        #expect(book.reinitializeDeadCodes(from: vectors, generator: &g).isEmpty)
    }

    @Test func unusedCodesDieAndComeBack() {
        // Code 1 never gets a vector: its size decays below 1 and it is then moved onto the data.
        let book = Self.codebook([[0, 0], [50, 50]], clusterSize: [10, 2], embeddingSum: [[0, 0], [100, 100]])
        let vectors = Tensor(shape: [3, 2], data: [0, 1, 1, 0, 0.5, 0.5])
        var g = SeededGenerator(seed: 1)
        var revivedAt: Int?
        for step in 1...5 {
            if !book.reinitializeDeadCodes(from: vectors, generator: &g).isEmpty { revivedAt = step; break }
            book.update(vectors: vectors, indices: Tensor.nearestCodeIndices(vectors, codebook: book.codebook))
        }
        // Decay 0.5: sizes 2 -> 1 -> 0.5, so it is dead at the start of step 3.
        #expect(revivedAt == 3)
        #expect(book.codebook.data[2] <= 1 && book.codebook.data[3] <= 1)
    }

    @Test func priorFitsHandMadeCodes() {
        let prior = PerPositionCategoricalPrior(positions: 2, codes: 3)
        #expect(prior.probabilities.data.allSatisfy { abs($0 - 1.0 / 3.0) < 1e-7 })   // uniform before fitting
        // Three images, image-major: (0, 2), (0, 1), (1, 2).
        prior.fit(codes: [0, 2, 0, 1, 1, 2], images: 3)
        // Position 0 counts [2, 1, 0], position 1 counts [0, 1, 2]; (count + 1) / (3 + 3).
        let expected: [Float] = [3, 2, 1, 1, 2, 3].map { $0 / 6 }
        for (ours, theirs) in zip(prior.probabilities.data, expected) { #expect(abs(ours - theirs) < 1e-6) }

        // Draws follow the fitted probabilities, position by position.
        var g = SeededGenerator(seed: 5)
        let draws = 30_000
        let samples = prior.sample(count: draws, generator: &g)
        #expect(samples.count == 2 * draws && samples.allSatisfy { (0..<3).contains($0) })
        for position in 0..<2 {
            for code in 0..<3 {
                let frequency = Double(stride(from: position, to: samples.count, by: 2).filter { samples[$0] == code }.count) / Double(draws)
                #expect(abs(frequency - Double(expected[position * 3 + code])) < 0.015,
                        "position \(position) code \(code): \(frequency)")
            }
        }
    }

    @Test func samplingGivesImagesInTheUnitInterval() throws {
        let model = try Self.makeModel(seed: 2)
        var g = SeededGenerator(seed: 4)
        let x = ModelTests.tinyBatch(8)
        _ = model.loss(x, generator: &g)
        model.finishTraining(images: x, generator: &g)
        let probabilities = try #require(model.namedBuffers.first { $0.name == "prior.probabilities" }).tensor
        #expect(probabilities.shape == [49, model.configuration.codebookSize])
        for p in 0..<49 {
            let row = probabilities.data[(p * 128)..<((p + 1) * 128)].reduce(0.0) { $0 + Double($1) }
            #expect(abs(row - 1) < 1e-4)
        }
        var s1 = SeededGenerator(seed: 9), s2 = SeededGenerator(seed: 9)
        let samples = model.sample(count: 10, generator: &s1)
        #expect(samples.shape == [10, 784])
        #expect(samples.data.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
        #expect(model.sample(count: 10, generator: &s2).data == samples.data)
    }

    @Test func encodeDecodeShapesAndDiagnostics() throws {
        let model = try Self.makeModel(seed: 3)
        let x = ModelTests.tinyBatch(5)
        let codes = model.encode(x)
        #expect(codes.shape == [5, 49 * model.configuration.codeSize])
        // Every encoded vector is a codebook row.
        let d = model.configuration.codeSize
        let rows = Set((0..<model.configuration.codebookSize).map { Array(model.codebook.data[($0 * d)..<(($0 + 1) * d)]) })
        #expect((0..<(5 * 49)).allSatisfy { rows.contains(Array(codes.data[($0 * d)..<(($0 + 1) * d)])) })
        #expect(model.reconstruct(x).shape == [5, 784])
        var g = SeededGenerator(seed: 1)
        #expect(model.negativeELBO(x, generator: &g) == nil)
        let figures = model.diagnostics(images: x, labels: [0, 1, 2, 3, 4])
        let inUse = try #require(figures["codes_in_use"]), perplexity = try #require(figures["code_perplexity"])
        #expect(inUse >= 1 && inUse <= 128 && perplexity >= 1 && perplexity <= inUse + 1e-9)
        // By hand: usage [2, 2, 0, 0] of K = 4 -> 2 codes, entropy ln 2, perplexity 2.
        let usage = VQVAE.usageStatistics([0, 1, 0, 1], codes: 4)
        #expect(usage.inUse == 2 && abs(usage.perplexity - 2) < 1e-12)
    }

    @Test func trainingStepReducesTheLossOnAFixedBatch() throws {
        // A few Adam steps on one batch: the straight-through gradient reaches the encoder and the loss falls.
        let model = try Self.makeModel(seed: 4)
        let adam = Adam(parameters: model.parameters, learningRate: 2e-3)
        let x = ModelTests.tinyBatch(8)
        var g = SeededGenerator(seed: 6)
        var losses: [Float] = []
        for _ in 0..<8 {
            for p in model.parameters { p.zeroGrad() }
            let output = model.loss(x, generator: &g)
            output.total.backward()
            #expect(model.conv1.weight.grad?.contains { $0 != 0 } == true)
            adam.update()
            losses.append(output.total.scalar)
        }
        #expect(losses.last! < losses.first!, "losses \(losses)")
    }
}
