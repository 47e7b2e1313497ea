import Foundation
import Testing
import TestSupport
import Autodiff
@testable import Evaluation

// MARK: - Helpers

/// n x d standard normal features, optionally mixed by a random d x d matrix (correlated columns),
/// scaled, shifted, and with some columns zeroed ("dead units").
private func randomFeatures(n: Int, d: Int, seed: UInt64, mix: Bool = false, scale: Float = 1,
                            shift: Float = 0, deadColumns: [Int] = []) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    var x = generator.normals(n * d)
    if mix {
        let mixing = generator.normals(d * d).map { $0 / Float(d).squareRoot() }
        var mixed = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            for j in 0..<d {
                var total: Float = 0
                for t in 0..<d { total += x[i * d + t] * mixing[t * d + j] }
                mixed[i * d + j] = total
            }
        }
        x = mixed
    }
    for i in 0..<n {
        for j in 0..<d { x[i * d + j] = x[i * d + j] * scale + shift * Float(j % 3) }
        for j in deadColumns { x[i * d + j] = 0 }
    }
    return x
}

/// Writes two feature sets in the format `Python/frechet_reference.py` reads.
private func writeFeaturePair(_ a: [Float], _ b: [Float], dimension d: Int, to path: String) throws {
    var data = Data("FEATSET1".utf8)
    for value in [Int32(a.count / d), Int32(b.count / d), Int32(d)] {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }
    for value in a + b { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
    try data.write(to: URL(fileURLWithPath: path))
}

/// Runs the reference script on `files` and returns one decoded JSON object per file, or records an
/// issue (never passes silently) when python3, numpy or scipy is unavailable or the script fails.
private func runFrechetReference(_ files: [String]) throws -> [[String: Any]]? {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Python/frechet_reference.py").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script] + files
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    do { try process.run() } catch {
        Issue.record("could not start python3 for the scipy cross-check (python3 with numpy and scipy is required): \(error)")
        return nil
    }
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        Issue.record("""
            frechet_reference.py failed (exit \(process.terminationStatus)); the scipy cross-check needs \
            python3 with numpy and scipy importable: \(String(decoding: errorData, as: UTF8.self))
            """)
        return nil
    }
    let lines = String(decoding: outputData, as: UTF8.self).split(separator: "\n")
    let objects = try lines.map { line -> [String: Any] in
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(object as? [String: Any], "unexpected script output line: \(line)")
    }
    try #require(objects.count == files.count, "expected \(files.count) result lines, got \(objects.count)")
    return objects
}

private func doubles(_ object: [String: Any], _ key: String) throws -> [Double] {
    try #require(object[key] as? [Double], "missing \(key) in script output")
}

private func relativeDifference(_ a: Double, _ b: Double) -> Double {
    abs(a - b) / max(abs(b), Double.leastNormalMagnitude)
}

/// Checks `statistics` against numpy's mean and covariance element-wise, to `tolerance` relative to
/// each element's natural scale (|numpy value|, or sqrt(var_i var_j) for covariances).
private func expectStatistics(_ statistics: FeatureStatistics, mean: [Double], covariance: [Double],
                              tolerance: Double) -> Double {
    let d = statistics.dimension
    var worst = 0.0
    #expect(statistics.mean.count == mean.count && statistics.covariance.count == covariance.count)
    for i in 0..<d {
        let scale = max(abs(mean[i]), covariance[i * d + i].squareRoot() / 100, 1e-300)
        worst = max(worst, abs(statistics.mean[i] - mean[i]) / scale)
        for j in 0..<d {
            let expected = covariance[i * d + j]
            let scale = max(abs(expected), (covariance[i * d + i] * covariance[j * d + j]).squareRoot(), 1e-300)
            worst = max(worst, abs(statistics.covariance[i * d + j] - expected) / scale)
        }
    }
    #expect(worst <= tolerance, "statistics differ from numpy by \(worst) relative")
    return worst
}

/// A random symmetric positive definite [d, d] matrix A A^T / d + 0.1 I.
private func randomSPD(_ d: Int, seed: UInt64) -> [Double] {
    var generator = SeededGenerator(seed: seed)
    let a = generator.normals(d * d).map(Double.init)
    var s = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
        for j in 0..<d {
            var total = 0.0
            for t in 0..<d { total += a[i * d + t] * a[j * d + t] }
            s[i * d + j] = total / Double(d) + (i == j ? 0.1 : 0)
        }
    }
    return s
}

// MARK: - Tests

@Suite("Feature-space metrics")
struct FeatureMetricsTests {
    @Test("statistics and Frechet distance agree with numpy, scipy and pytorch-fid's formula")
    func agreesWithScipy() throws {
        let n = 500, d = 16
        let dead = [2, 7, 11]
        let wellA = randomFeatures(n: n, d: d, seed: 1, mix: true)
        let wellB = randomFeatures(n: n, d: d, seed: 2, mix: true, scale: 1.3, shift: 0.4)
        let singularA = randomFeatures(n: n, d: d, seed: 3, mix: true, deadColumns: dead)
        let singularB = randomFeatures(n: n, d: d, seed: 4, mix: true, scale: 0.8, shift: -0.3)
        try withTemporaryFolder { folder in
            let wellPath = folder + "/well.feat", singularPath = folder + "/singular.feat"
            try writeFeaturePair(wellA, wellB, dimension: d, to: wellPath)
            try writeFeaturePair(singularA, singularB, dimension: d, to: singularPath)
            guard let results = try runFrechetReference([wellPath, singularPath]) else { return }
            let pairs = [("well-conditioned", wellA, wellB), ("3 dead columns", singularA, singularB)]
            for ((name, a, b), reference) in zip(pairs, results) {
                let statsA = try FeatureStatistics(features: a, dimension: d, chunkRows: 64)
                let statsB = try FeatureStatistics(features: b, dimension: d)
                let worstA = expectStatistics(statsA, mean: try doubles(reference, "mu1"),
                                              covariance: try doubles(reference, "sigma1"), tolerance: 1e-9)
                let worstB = expectStatistics(statsB, mean: try doubles(reference, "mu2"),
                                              covariance: try doubles(reference, "sigma2"), tolerance: 1e-9)
                let ours = try FrechetDistance.compute(statsA, statsB)
                let pytorch = try #require(reference["fid_pytorch"] as? Double)
                let pytorchEps = try #require(reference["fid_pytorch_eps"] as? Double)
                let symmetric = try #require(reference["fid_symmetric"] as? Double)
                let usedEps = reference["pytorch_used_eps"] as? Bool ?? false
                let vsPytorch = relativeDifference(ours, pytorch)
                let vsPytorchEps = relativeDifference(ours, pytorchEps)
                let vsSymmetric = relativeDifference(ours, symmetric)
                print("""
                    [FeatureMetricsTests] \(name): FID ours \(ours), scipy symmetric \(symmetric) (rel \(vsSymmetric)), \
                    pytorch-fid \(pytorch) (rel \(vsPytorch), eps retry \(usedEps)), pytorch-fid eps=1e-6 \
                    \(pytorchEps) (rel \(vsPytorchEps)); stats vs numpy worst rel \(max(worstA, worstB))
                    """)
                #expect(vsSymmetric <= 1e-6, "\(name): ours \(ours) vs scipy symmetric \(symmetric)")
                if !usedEps {
                    #expect(vsPytorch <= 1e-6, "\(name): ours \(ours) vs pytorch-fid \(pytorch)")
                }
                // pytorch-fid's eps = 1e-6 offset moves each dead unit i (S1_ii = 0) by about
                // at most 2 sqrt(eps S2_ii) in the distance: expect agreement only to that order.
                let eps = 1e-6
                let predicted = (0..<d).reduce(0.0) { total, i in
                    statsA.covariance[i * d + i] == 0 ? total + 2 * (eps * statsB.covariance[i * d + i]).squareRoot() : total
                }
                print("[FeatureMetricsTests] \(name): |ours - pytorch-fid eps| = \(abs(ours - pytorchEps)), upper estimate 2 sum_dead sqrt(eps S2_ii) = \(predicted)")
                #expect(vsPytorchEps <= (name == "well-conditioned" ? 1e-5 : 1e-3),
                        "\(name): ours \(ours) vs pytorch-fid eps \(pytorchEps)")
            }
        }
    }

    @Test("equal covariances give the squared mean distance")
    func equalCovariances() throws {
        let d = 12
        let covariance = randomSPD(d, seed: 5)
        var generator = SeededGenerator(seed: 6)
        let mu1 = generator.normals(d).map(Double.init), mu2 = generator.normals(d).map { Double($0) * 2 }
        let expected = zip(mu1, mu2).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let a = FeatureStatistics(mean: mu1, covariance: covariance, dimension: d, count: 100)
        let b = FeatureStatistics(mean: mu2, covariance: covariance, dimension: d, count: 100)
        let scale = expected + 2 * a.trace
        let value = try FrechetDistance.compute(a, b)
        #expect(abs(value - expected) <= 1e-9 * scale, "got \(value), expected \(expected)")
    }

    @Test("identical feature sets give 0", arguments: [[], [0, 5, 9]])
    func identicalSets(deadColumns: [Int]) throws {
        let d = 16
        let features = randomFeatures(n: 400, d: d, seed: 7, mix: true, scale: 3, shift: 1, deadColumns: deadColumns)
        let statistics = try FeatureStatistics(features: features, dimension: d)
        let value = try FrechetDistance.compute(statistics, statistics)
        #expect(value >= 0)
        #expect(value <= 1e-9 * 2 * statistics.trace, "identical sets gave \(value) (trace \(statistics.trace))")
    }

    @Test("diagonal covariances give sum (sqrt a_i - sqrt b_i)^2 + ||mu1 - mu2||^2", arguments: [false, true])
    func diagonalCovariances(withZeros: Bool) throws {
        let d = 10
        var generator = SeededGenerator(seed: 8)
        var a = (0..<d).map { _ in Double(generator.nextUniform(in: 0.01, 5)) }
        let b = (0..<d).map { _ in Double(generator.nextUniform(in: 0.01, 5)) }
        if withZeros { a[1] = 0; a[6] = 0 }
        let mu1 = generator.normals(d).map(Double.init), mu2 = generator.normals(d).map(Double.init)
        func diagonal(_ v: [Double]) -> [Double] {
            var m = [Double](repeating: 0, count: d * d)
            for i in 0..<d { m[i * d + i] = v[i] }
            return m
        }
        var expected = 0.0
        for i in 0..<d {
            expected += (a[i].squareRoot() - b[i].squareRoot()) * (a[i].squareRoot() - b[i].squareRoot())
            expected += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i])
        }
        let value = try FrechetDistance.compute(
            FeatureStatistics(mean: mu1, covariance: diagonal(a), dimension: d, count: 50),
            FeatureStatistics(mean: mu2, covariance: diagonal(b), dimension: d, count: 50))
        #expect(abs(value - expected) <= 1e-12 * (expected + a.reduce(0, +) + b.reduce(0, +)),
                "got \(value), expected \(expected)")
    }

    @Test("NaN or Inf features throw instead of producing NaN", arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteThrows(bad: Float) throws {
        let d = 4
        var features = randomFeatures(n: 20, d: d, seed: 9)
        features[13 * d + 2] = bad
        let error = #expect(throws: FeatureMetricsError.self) {
            _ = try FeatureStatistics(features: features, dimension: d)
        }
        if case let .nonFiniteFeatures(_, row, column, _)? = error {
            #expect(row == 13 && column == 2)
        } else {
            Issue.record("expected nonFiniteFeatures, got \(String(describing: error))")
        }
        #expect(error?.description.contains("NaN or Inf") == true)
        let good = try FeatureStatistics(features: randomFeatures(n: 20, d: d, seed: 10), dimension: d)
        var mean = good.mean
        mean[1] = Double(bad)
        let poisoned = FeatureStatistics(mean: mean, covariance: good.covariance, dimension: d, count: 20)
        #expect(throws: FeatureMetricsError.nonFiniteStatistics(which: "b (second argument)")) {
            _ = try FrechetDistance.compute(good, poisoned)
        }
        var covariance = good.covariance
        covariance[5] = Double(bad)
        let poisonedCovariance = FeatureStatistics(mean: good.mean, covariance: covariance, dimension: d, count: 20)
        #expect(throws: FeatureMetricsError.self) { _ = try FrechetDistance.compute(poisonedCovariance, good) }
        var generator = SeededGenerator(seed: 1)
        #expect(throws: FeatureMetricsError.self) {
            _ = try KernelInceptionDistance.compute(real: randomFeatures(n: 20, d: d, seed: 11), generated: features,
                                                    dimension: d, subsets: 1, subsetSize: 10, generator: &generator)
        }
        #expect(throws: FeatureMetricsError.self) {
            _ = try PrecisionRecall.compute(real: features, generated: randomFeatures(n: 20, d: d, seed: 11), dimension: d)
        }
    }

    @Test("a covariance that is not positive semi-definite throws", arguments: [false, true])
    func notPSDThrows(secondArgument: Bool) throws {
        // [[1, 2], [2, 1]] has eigenvalues 3 and -1.
        let bad = FeatureStatistics(mean: [0, 0], covariance: [1, 2, 2, 1], dimension: 2, count: 10)
        let good = FeatureStatistics(mean: [1, 0], covariance: [2, 0.5, 0.5, 1], dimension: 2, count: 10)
        let error = #expect(throws: FeatureMetricsError.self) {
            _ = try secondArgument ? FrechetDistance.compute(good, bad) : FrechetDistance.compute(bad, good)
        }
        guard case .notPositiveSemidefinite? = error else {
            Issue.record("expected notPositiveSemidefinite, got \(String(describing: error))")
            return
        }
    }

    @Test("statistics survive a JSON round trip")
    func codableRoundTrip() throws {
        let statistics = try FeatureStatistics(features: randomFeatures(n: 50, d: 6, seed: 12, mix: true), dimension: 6)
        let data = try JSONEncoder().encode(statistics)
        #expect(try JSONDecoder().decode(FeatureStatistics.self, from: data) == statistics)
    }

    // MARK: KID

    /// Unbiased MMD^2 with k(x, y) = (x.y/d + 1)^3 by direct double loops over the given rows.
    private func directMMD2(_ x: [Float], _ xRows: [Int], _ y: [Float], _ yRows: [Int], d: Int) -> Double {
        func kernel(_ p: [Float], _ i: Int, _ q: [Float], _ j: Int) -> Double {
            var dot = 0.0
            for t in 0..<d { dot += Double(p[i * d + t]) * Double(q[j * d + t]) }
            return pow(dot / Double(d) + 1, 3)
        }
        let m = Double(xRows.count)
        var xx = 0.0, yy = 0.0, xy = 0.0
        for i in xRows { for j in xRows where j != i { xx += kernel(x, i, x, j) } }
        for i in yRows { for j in yRows where j != i { yy += kernel(y, i, y, j) } }
        for i in xRows { for j in yRows { xy += kernel(x, i, y, j) } }
        return (xx + yy) / (m * (m - 1)) - 2 * xy / (m * m)
    }

    @Test("KID on one subset of all samples equals a direct double-loop MMD^2")
    func kidMatchesDirectLoop() throws {
        let n = 30, d = 5
        let x = randomFeatures(n: n, d: d, seed: 13), y = randomFeatures(n: n, d: d, seed: 14, scale: 1.5, shift: 0.5)
        var generator = SeededGenerator(seed: 15)
        let kid = try KernelInceptionDistance.compute(real: x, generated: y, dimension: d, subsets: 1, subsetSize: n,
                                                      generator: &generator)
        let expected = directMMD2(x, Array(0..<n), y, Array(0..<n), d: d)
        #expect(abs(kid.mean - expected) <= 1e-12 * abs(expected), "KID \(kid.mean) vs direct \(expected)")
        #expect(kid.standardDeviation == 0 && kid.subsets == 1 && kid.subsetSize == n)
        // Identical distributions give an estimate near 0; identical sets give exactly the negative
        // cross-diagonal correction, still close to 0 relative to the shifted case.
        var second = SeededGenerator(seed: 15)
        let same = try KernelInceptionDistance.compute(real: x, generated: x, dimension: d, subsets: 1, subsetSize: n,
                                                       generator: &second)
        #expect(abs(same.mean - directMMD2(x, Array(0..<n), x, Array(0..<n), d: d)) <= 1e-12)
        #expect(abs(same.mean) < abs(kid.mean))
    }

    @Test("KID over several random subsets equals direct loops on the same draws (mean and population std)")
    func kidSubsets() throws {
        let d = 5
        let x = randomFeatures(n: 40, d: d, seed: 16), y = randomFeatures(n: 25, d: d, seed: 17, scale: 1.2)
        var generator = SeededGenerator(seed: 18)
        var replay = generator
        let kid = try KernelInceptionDistance.compute(real: x, generated: y, dimension: d, subsets: 4, subsetSize: 10,
                                                      generator: &generator)
        var estimates: [Double] = []
        for _ in 0..<4 {
            let xRows = KernelInceptionDistance.sampleWithoutReplacement(10, from: 40, generator: &replay)
            let yRows = KernelInceptionDistance.sampleWithoutReplacement(10, from: 25, generator: &replay)
            #expect(Set(xRows).count == 10 && Set(yRows).count == 10 && xRows.allSatisfy { $0 < 40 })
            estimates.append(directMMD2(x, xRows, y, yRows, d: d))
        }
        #expect(replay == generator, "the generator must advance exactly as the replayed draws")
        let mean = estimates.reduce(0, +) / 4
        let std = (estimates.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 4).squareRoot()
        #expect(abs(kid.mean - mean) <= 1e-12 * estimates.map(abs).max()!)
        #expect(abs(kid.standardDeviation - std) <= 1e-10 * std)
    }

    // MARK: Precision / recall

    /// Brute force: sorted direct squared distances for radii, then coverage by definition.
    private func bruteForcePrecisionRecall(_ real: [Float], _ generated: [Float], d: Int, k: Int) -> (Double, Double) {
        func distance(_ p: [Float], _ i: Int, _ q: [Float], _ j: Int) -> Double {
            var total = 0.0
            for t in 0..<d {
                let diff = Double(p[i * d + t]) - Double(q[j * d + t])
                total += diff * diff
            }
            return total
        }
        let nr = real.count / d, ng = generated.count / d
        func radii(_ x: [Float], _ n: Int) -> [Double] {
            (0..<n).map { i in (0..<n).filter { $0 != i }.map { distance(x, i, x, $0) }.sorted()[k - 1] }
        }
        let realRadii = radii(real, nr), generatedRadii = radii(generated, ng)
        let precision = (0..<ng).filter { j in (0..<nr).contains { distance(generated, j, real, $0) <= realRadii[$0] } }.count
        let recall = (0..<nr).filter { i in (0..<ng).contains { distance(real, i, generated, $0) <= generatedRadii[$0] } }.count
        return (Double(precision) / Double(ng), Double(recall) / Double(nr))
    }

    @Test("precision/recall equal a brute-force O(n^2) computation",
          arguments: [(60, 45, 4, 3, 19), (50, 70, 3, 1, 7), (80, 80, 6, 5, 100_000)])
    func precisionRecallBruteForce(nr: Int, ng: Int, d: Int, k: Int, chunkElements: Int) throws {
        let real = randomFeatures(n: nr, d: d, seed: UInt64(nr * 7 + k))
        let generated = randomFeatures(n: ng, d: d, seed: UInt64(ng * 11 + k), scale: 1.4, shift: 0.6)
        let result = try PrecisionRecall.compute(real: real, generated: generated, dimension: d, k: k,
                                                 chunkElements: chunkElements)
        let (precision, recall) = bruteForcePrecisionRecall(real, generated, d: d, k: k)
        #expect(result.precision == precision && result.recall == recall,
                "got (\(result.precision), \(result.recall)), brute force (\(precision), \(recall))")
        // The real radii computed once (as the evaluation does through ReferenceFeatures) give the same result.
        let reference = try ReferenceFeatures(features: real, dimension: d, networkSHA256: "n", dataChecksum: "c")
        let radii = reference.squaredRadii(k: k)
        #expect(radii == PrecisionRecall.squaredRadii(of: real, dimension: d, k: k, chunkElements: chunkElements))
        let reused = try PrecisionRecall.compute(real: real, generated: generated, dimension: d, k: k,
                                                 chunkElements: chunkElements, realSquaredRadii: radii)
        #expect(reused == result && reference.squaredRadii(k: k) == radii)
        #expect(precision > 0 && precision < 1 || recall > 0 && recall < 1, "the case should not be trivial")
    }

    @Test("identical sets give precision = recall = 1; far-apart clusters give 0")
    func precisionRecallKnownAnswers() throws {
        let d = 8
        let real = randomFeatures(n: 100, d: d, seed: 20, mix: true)
        let same = try PrecisionRecall.compute(real: real, generated: real, dimension: d)
        #expect(same.precision == 1 && same.recall == 1 && same.k == 3)
        let far = randomFeatures(n: 90, d: d, seed: 21).map { $0 + 1000 }
        let apart = try PrecisionRecall.compute(real: real, generated: far, dimension: d, chunkElements: 500)
        #expect(apart.precision == 0 && apart.recall == 0)
    }

    // MARK: Timing

    @Test("FeatureStatistics + FrechetDistance for n = 10,000, d = 128 (timing)")
    func timingStatisticsAndFrechet() throws {
        let n = 10_000, d = 128
        let a = randomFeatures(n: n, d: d, seed: 30), b = randomFeatures(n: n, d: d, seed: 31, scale: 1.1, shift: 0.1)
        let clock = ContinuousClock()
        var value = 0.0
        let statisticsTime = try clock.measure {
            let sa = try FeatureStatistics(features: a, dimension: d)
            let sb = try FeatureStatistics(features: b, dimension: d)
            let frechetTime = try clock.measure { value = try FrechetDistance.compute(sa, sb) }
            print("[FeatureMetricsTests] FrechetDistance d=128: \(frechetTime)")
        }
        print("[FeatureMetricsTests] 2 x FeatureStatistics n=10000 d=128 + FrechetDistance: \(statisticsTime), FID \(value)")
        #expect(value > 0)
        #expect(statisticsTime < .seconds(30))
    }

    @Test("precision/recall and KID at n = 10,000, d = 128 (timing; set FEATURE_METRICS_BENCH=1)",
          .enabled(if: ProcessInfo.processInfo.environment["FEATURE_METRICS_BENCH"] != nil))
    func timingLarge() throws {
        let n = 10_000, d = 128
        let a = randomFeatures(n: n, d: d, seed: 30), b = randomFeatures(n: n, d: d, seed: 31, scale: 1.1, shift: 0.1)
        let clock = ContinuousClock()
        var pr = PrecisionRecall(precision: 0, recall: 0, k: 3)
        let prTime = try clock.measure { pr = try PrecisionRecall.compute(real: a, generated: b, dimension: d) }
        print("[FeatureMetricsTests] PrecisionRecall n=10000 d=128: \(prTime) -> \(pr)")
        var generator = SeededGenerator(seed: 1)
        var kid = KernelInceptionDistance(mean: 0, standardDeviation: 0, subsets: 0, subsetSize: 0)
        let kidTime = try clock.measure {
            kid = try KernelInceptionDistance.compute(real: a, generated: b, dimension: d, generator: &generator)
        }
        print("[FeatureMetricsTests] KID 100 x 1000, d=128: \(kidTime) -> \(kid)")
    }
}
