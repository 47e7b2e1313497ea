import Autodiff
@testable import Evaluation
import Foundation
import LinearAlgebra
import Models
import Testing
import TestSupport

/// The ex-post Gaussian mixture: EM recovering a known two-cluster set, monotone log-likelihood, k-means++ seeding,
/// sampling moments, Codable, the BLAS kernels against the plain-loop reference, and the sampler on a real
/// (untrained) MLP VAE. Serialized: one test changes the BLAS thread count.
@Suite(.serialized) struct GaussianMixtureTests {
    /// 2-D draws from weights [0.3, 0.7], means (-5, 0) and (5, 3), covariances [[1, .5], [.5, 1]] and
    /// [[2, -.3], [-.3, .5]], generated through their Cholesky factors.
    static let trueWeights = [0.3, 0.7]
    static let trueMeans: [[Double]] = [[-5, 0], [5, 3]]
    static let trueCovariances: [[Double]] = [[1, 0.5, 0.5, 1], [2, -0.3, -0.3, 0.5]]

    static func twoClusters(count: Int, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        var out: [Float] = []
        for _ in 0..<count {
            let c = Double(g.nextUniform()) < trueWeights[0] ? 0 : 1
            let s = trueCovariances[c]
            let l00 = s[0].squareRoot(), l10 = s[2] / l00, l11 = (s[3] - l10 * l10).squareRoot()
            let z = g.normals(2).map(Double.init)
            out.append(Float(trueMeans[c][0] + l00 * z[0]))
            out.append(Float(trueMeans[c][1] + l10 * z[0] + l11 * z[1]))
        }
        return out
    }

    /// Sample mean [d] and (biased) covariance [d, d] of rows [n, d].
    static func moments(_ x: [Float], dimension d: Int) -> (mean: [Double], covariance: [Double]) {
        let n = x.count / d
        var mean = [Double](repeating: 0, count: d)
        for p in 0..<n { for i in 0..<d { mean[i] += Double(x[p * d + i]) } }
        for i in 0..<d { mean[i] /= Double(n) }
        var cov = [Double](repeating: 0, count: d * d)
        for p in 0..<n {
            for i in 0..<d {
                for j in 0..<d { cov[i * d + j] += (Double(x[p * d + i]) - mean[i]) * (Double(x[p * d + j]) - mean[j]) }
            }
        }
        return (mean, cov.map { $0 / Double(n) })
    }

    /// `count` points in `dimension` dimensions from `clusters` Gaussians with random centres (spread 3) and random
    /// full covariances (x = c + A z, A with entries in [-0.5, 0.5]), like encoder means of a trained model.
    static func clustered(count: Int, dimension d: Int, clusters: Int, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        let centres = (0..<clusters).map { _ in g.normals(d).map { 3 * $0 } }
        let factors = (0..<clusters).map { _ in (0..<(d * d)).map { _ in g.nextUniform(in: -0.5, 0.5) } }
        var out = [Float](repeating: 0, count: count * d)
        for p in 0..<count {
            let c = Int(g.boundedDraw(UInt64(clusters)))
            let z = g.normals(d)
            for i in 0..<d {
                var v = centres[c][i]
                for j in 0..<d { v += factors[c][i * d + j] * z[j] }
                out[p * d + i] = v
            }
        }
        return out
    }

    /// |a - b| <= tolerance * max(1, |b|), elementwise; returns the first offending index.
    static func firstMismatch(_ a: [Double], _ b: [Double], relative tolerance: Double) -> Int? {
        precondition(a.count == b.count)
        return a.indices.first { abs(a[$0] - b[$0]) > tolerance * max(1, abs(b[$0])) }
    }

    @Test func blasLogDensitiesMatchPlainLoops() {
        let d = 20, n = 1500
        let points = Self.clustered(count: n, dimension: d, clusters: 10, seed: 31)
        var g = SeededGenerator(seed: 4)
        let (mixture, _) = NaiveGaussianMixture.fit(points: points, dimension: d, components: 10, iterations: 5,
                                                    tolerance: 0, generator: &g)
        // Points near and far from the components, in blocks that do not divide n.
        let probe = points + Self.clustered(count: 200, dimension: d, clusters: 3, seed: 99).map { $0 * 4 }
        let x = probe.map(Double.init), rows = probe.count / d
        let reference = NaiveGaussianMixture.componentLogDensities(mixture, x, rows)
        for block in [4096, 333, 1] {
            let fast = mixture.componentLogDensities(x, rows, blockRows: block)
            let bad = Self.firstMismatch(fast, reference, relative: 1e-11)
            #expect(bad == nil, "block \(block), entry \(bad ?? -1): \(bad.map { fast[$0] } ?? 0) vs \(bad.map { reference[$0] } ?? 0)")
        }
    }

    @Test func blasMStepMatchesPlainLoops() {
        let d = 20, n = 2000, k = 10
        let x = Self.clustered(count: n, dimension: d, clusters: 6, seed: 8).map(Double.init)
        var g = SeededGenerator(seed: 12)
        // Random responsibilities, some exactly zero, rows summing to 1; one component gets nothing at all.
        var r = [Double](repeating: 0, count: n * k)
        for p in 0..<n {
            var total = 0.0
            for c in 0..<(k - 1) { let u = Double(g.nextUniform()); r[p * k + c] = u < 0.3 ? 0 : u; total += r[p * k + c] }
            if total == 0 { r[p * k] = 1; total = 1 }
            for c in 0..<k { r[p * k + c] /= total }
        }
        let fast = GaussianMixture.mStep(x, n: n, d: d, k: k, responsibilities: r, fallbackEpsilon: 1e-6)
        let reference = NaiveGaussianMixture.mStep(x, n, d, k, r, 1e-6)
        #expect(Self.firstMismatch(fast.weights, reference.weights, relative: 1e-12) == nil)
        #expect(Self.firstMismatch(fast.means, reference.means, relative: 1e-12) == nil)
        let bad = Self.firstMismatch(fast.covariances, reference.covariances, relative: 1e-12)
        #expect(bad == nil, "covariance entry \(bad ?? -1)")
        #expect(fast.weights[k - 1] < 1e-12)
    }

    @Test(arguments: [(components: 10, dimension: 20), (components: 3, dimension: 2)])
    func blasFitMatchesPlainLoops(components: Int, dimension: Int) {
        // More rows than one block, so the blocked sums are exercised.
        let points = Self.clustered(count: 2500, dimension: dimension, clusters: 7, seed: UInt64(components))
        var g1 = SeededGenerator(seed: 21), g2 = SeededGenerator(seed: 21)
        let (fast, fastLL) = GaussianMixture.fit(points: points, dimension: dimension, components: components,
                                                 iterations: 25, tolerance: 0, generator: &g1)
        let (reference, referenceLL) = NaiveGaussianMixture.fit(points: points, dimension: dimension, components: components,
                                                                iterations: 25, tolerance: 0, generator: &g2)
        #expect(fastLL.count == 26 && referenceLL.count == 26)
        #expect(Self.firstMismatch(fastLL, referenceLL, relative: 1e-9) == nil, "\(fastLL) vs \(referenceLL)")
        #expect(Self.firstMismatch(fast.weights, reference.weights, relative: 1e-9) == nil)
        #expect(Self.firstMismatch(fast.means, reference.means, relative: 1e-9) == nil)
        #expect(Self.firstMismatch(fast.covariances, reference.covariances, relative: 1e-9) == nil)
        // Both consumed the generator identically (k-means++ only).
        #expect(g1.next() == g2.next())
    }

    /// Bit-identical with 1 and 2 threads (a threaded OpenBLAS call would not be: see `BLASRuntime`).
    @Test func fitIsIndependentOfThreadCount() {
        let points = Self.clustered(count: 9000, dimension: 20, clusters: 10, seed: 5)
        func run(_ threads: Int) -> (GaussianMixture, [Double]) {
            BLASRuntime.threadCount = threads
            var g = SeededGenerator(seed: 3)
            return GaussianMixture.fit(points: points, dimension: 20, components: 10, iterations: 6, tolerance: 0, generator: &g)
        }
        let one = run(1), two = run(2)
        BLASRuntime.threadCount = 2
        #expect(one.1 == two.1)
        #expect(one.0 == two.0)
    }

    @Test func emRecoversTwoClusters() {
        let points = Self.twoClusters(count: 3000, seed: 11)
        var g = SeededGenerator(seed: 5)
        let (mixture, lls) = GaussianMixture.fit(points: points, dimension: 2, components: 2, iterations: 200,
                                                 tolerance: 1e-10, generator: &g)
        #expect(mixture.components == 2 && mixture.dimension == 2)
        #expect(lls.count >= 2)
        // Match fitted components to the true ones by the first coordinate of the mean.
        let order = mixture.means[0] < mixture.means[2] ? [0, 1] : [1, 0]
        for (truth, fitted) in order.enumerated() {
            #expect(abs(mixture.weights[fitted] - Self.trueWeights[truth]) < 0.03, "weight \(mixture.weights)")
            for i in 0..<2 {
                #expect(abs(mixture.means[fitted * 2 + i] - Self.trueMeans[truth][i]) < 0.12, "means \(mixture.means)")
            }
            for e in 0..<4 {
                let fittedValue = mixture.covariances[fitted * 4 + e], trueValue = Self.trueCovariances[truth][e]
                #expect(abs(fittedValue - trueValue) < 0.15 * max(1, abs(trueValue)),
                        "covariance \(truth) entry \(e): \(fittedValue) vs \(trueValue)")
            }
        }
    }

    @Test(arguments: [1, 2, 3, 5])
    func logLikelihoodNeverDecreases(components: Int) {
        let points = Self.twoClusters(count: 800, seed: UInt64(20 + components))
        var g = SeededGenerator(seed: UInt64(components))
        let (mixture, lls) = GaussianMixture.fit(points: points, dimension: 2, components: components, iterations: 60,
                                                 tolerance: 0, generator: &g)
        #expect(lls.allSatisfy { $0.isFinite })
        for t in 1..<lls.count {
            #expect(lls[t] >= lls[t - 1] - 1e-9 * abs(lls[t - 1]), "iteration \(t): \(lls[t - 1]) -> \(lls[t])")
        }
        // The recorded last value belongs to the returned mixture.
        #expect(abs(mixture.meanLogLikelihood(points: points) - lls[lls.count - 1]) < 1e-9 * abs(lls[lls.count - 1]))
    }

    @Test func kMeansPlusPlusPicksDistinctPoints() {
        var g = SeededGenerator(seed: 3)
        let points = (0..<300).map { _ in g.nextUniform(in: -1, 1) }  // 100 points in 3-D
        let chosen = GaussianMixture.kMeansPlusPlus(points: points, dimension: 3, count: 10, generator: &g)
        #expect(chosen.count == 10)
        #expect(Set(chosen).count == 10)
        let rows = Set(chosen.map { Array(points[($0 * 3)..<($0 * 3 + 3)]) })
        #expect(rows.count == 10)
        // Duplicated rows: still distinct points as long as there are enough distinct values.
        let twice = points + points
        let picks = GaussianMixture.kMeansPlusPlus(points: twice, dimension: 3, count: 10, generator: &g)
        #expect(Set(picks.map { Array(twice[($0 * 3)..<($0 * 3 + 3)]) }).count == 10)
    }

    @Test func degenerateInputGivesNoNaN() {
        let points = [Float](repeating: 0.7, count: 50 * 3)
        var g = SeededGenerator(seed: 9)
        let chosen = GaussianMixture.kMeansPlusPlus(points: points, dimension: 3, count: 4, generator: &g)
        #expect(Set(chosen).count == 4)
        let (mixture, lls) = GaussianMixture.fit(points: points, dimension: 3, components: 4, iterations: 10,
                                                 tolerance: 1e-8, generator: &g)
        #expect(lls.allSatisfy { $0.isFinite })
        #expect(mixture.weights.allSatisfy { $0.isFinite } && mixture.means.allSatisfy { $0.isFinite })
        #expect(mixture.covariances.allSatisfy { $0.isFinite })
        let samples = mixture.sample(count: 100, generator: &g)
        #expect(samples.allSatisfy { $0.isFinite })
        #expect(samples.allSatisfy { abs($0 - 0.7) < 0.01 })
    }

    @Test func samplingMatchesParameters() {
        // Fit one correlated 3-D Gaussian, then check the moments of 20,000 draws against the fitted parameters.
        var g = SeededGenerator(seed: 17)
        var points: [Float] = []
        for _ in 0..<2000 {
            let z = g.normals(3)
            points += [1 + 2 * z[0], -2 + 0.5 * z[0] + z[1], 0.3 * z[1] + 0.2 * z[2]]
        }
        let (mixture, _) = GaussianMixture.fit(points: points, dimension: 3, components: 1, iterations: 5,
                                               tolerance: 1e-9, generator: &g)
        let draws = mixture.sample(count: 20_000, generator: &g)
        #expect(draws.count == 60_000)
        let (mean, cov) = Self.moments(draws, dimension: 3)
        for i in 0..<3 {
            let sd = mixture.covariances[i * 3 + i].squareRoot()
            #expect(abs(mean[i] - mixture.means[i]) < 0.03 * sd + 1e-6, "mean \(i): \(mean[i]) vs \(mixture.means[i])")
        }
        for i in 0..<3 {
            for j in 0..<3 {
                let scale = (mixture.covariances[i * 3 + i] * mixture.covariances[j * 3 + j]).squareRoot()
                #expect(abs(cov[i * 3 + j] - mixture.covariances[i * 3 + j]) < 0.04 * scale,
                        "covariance (\(i), \(j)): \(cov[i * 3 + j]) vs \(mixture.covariances[i * 3 + j])")
            }
        }
    }

    @Test func logDensityMatchesFormula() {
        // Two 1-D components: p(x) = sum_k pi_k exp(-(x - mu_k)^2 / (2 s_k)) / sqrt(2 pi s_k).
        let m = GaussianMixture(dimension: 1, weights: [0.25, 0.75], means: [-1, 2], covariances: [0.5, 3])
        for x in [-3.0, -1, 0, 0.5, 2, 10] {
            let p = 0.25 * exp(-(x + 1) * (x + 1) / 1) / (2 * Double.pi * 0.5).squareRoot()
                + 0.75 * exp(-(x - 2) * (x - 2) / 6) / (2 * Double.pi * 3).squareRoot()
            let l = m.logDensities(points: [Float(x)])[0]
            #expect(abs(l - log(p)) < 1e-9, "x = \(x): \(l) vs \(log(p))")
        }
        // Far in the tail log-sum-exp stays finite where the densities underflow.
        #expect(m.logDensities(points: [1e4])[0].isFinite)
    }

    @Test func codableRoundTrip() throws {
        let points = Self.twoClusters(count: 200, seed: 2)
        var g = SeededGenerator(seed: 1)
        let (mixture, _) = GaussianMixture.fit(points: points, dimension: 2, components: 3, iterations: 10,
                                               tolerance: 1e-6, generator: &g)
        let data = try JSONEncoder().encode(mixture)
        let decoded = try JSONDecoder().decode(GaussianMixture.self, from: data)
        #expect(decoded == mixture)
        // A non-positive-definite covariance in a file is an error, not a trap.
        let bad = #"{"dimension":1,"weights":[1],"means":[0],"covariances":[-1]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(GaussianMixture.self, from: Data(bad.utf8)) }
    }

    @Test func exPostSamplerOnMLPVAE() throws {
        var g = SeededGenerator(seed: 42)
        let model = try ModelFactory.make(try ShippedStudy.configuration("vae_std_z20"), generator: &g)
        let pixels = model.configuration.imageSize
        #expect(pixels == 784)
        let count = 120
        let images = Tensor(shape: [count, pixels], data: (0..<(count * pixels)).map { _ in g.nextUniform() })
        let mixture = ExPostSampler.fit(model: model, images: images, iterations: 20, batchSize: 50, generator: &g)
        #expect(mixture.components == 10)
        #expect(mixture.dimension == model.configuration.latentSize)
        let samples = ExPostSampler.sample(model: model, mixture: mixture, count: 7, batchSize: 4, generator: &g)
        #expect(samples.shape == [7, 784])
        #expect(samples.data.allSatisfy { $0 >= 0 && $0 <= 1 })
    }
}
