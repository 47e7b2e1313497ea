@testable import Evaluation
import Foundation
import Models
@testable import Reporting
import Testing

/// Hand-made results of one run folder: test MSE, FID per draw (nil: no generation metrics), and optionally
/// the FIDs of a second sampler for a custom extractor.
func handMadeResults(_ run: String, mse: Double, fid draws: [Double]?, diagnostics: [String: Double]? = nil) -> EvaluationResults {
    let classes = try! JSONDecoder().decode(ClassStatistics.self, from: Data(
        #"{"histogram":[10,10,10,10,10,10,10,10,10,10],"entropy":2.3,"meanMaxConfidence":0.8,"count":100}"#.utf8))
    let generation = draws.map {
        GenerationMetrics(settings: GenerationSettings(samples: 100, draws: $0.count), featureNetworkSHA256: "00",
                          featureLayer: "fc1_pre_relu", referenceCount: 100, referenceDataChecksum: "00",
                          fid: FIDSummary(values: $0), kid: KernelInceptionDistance(mean: 10, standardDeviation: 1, subsets: 5, subsetSize: 50),
                          precisionRecall: PrecisionRecall(precision: 0.6, recall: 0.4, k: 3), classes: classes, seconds: 1)
    }
    return EvaluationResults(run: run, modelKind: "mlp_vae", checkpointSHA256: "00", parameterCount: 1000, trainingEpochs: 1,
                             trainingSeconds: 1, reconstruction: ReconstructionMetrics(meanSquaredError: mse, negativeELBO: 100, imageCount: 100),
                             evaluationSeed: 0, samplesImage: "samples.png", settings: nil, generation: generation,
                             diagnostics: diagnostics)
}

func close(_ a: Double?, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= tolerance * max(1, abs(b))
}

@Suite struct SeedAggregationTests {
    /// Three seeds of vae_std_z20 (listed out of order), two of vae_std_z20_res, one seed of wae, and vq_vae
    /// without a seed suffix.
    static let runs: [(folder: String, results: EvaluationResults)] = [
        ("vae_std_z20-s3", handMadeResults("vae_std_z20-s3", mse: 0.012, fid: [390, 394, 386])),
        ("vae_std_z20-s1", handMadeResults("vae_std_z20-s1", mse: 0.010, fid: [400, 402, 398])),
        ("vq_vae", handMadeResults("vq_vae", mse: 0.003, fid: [560, 565])),
        ("vae_std_z20-s2", handMadeResults("vae_std_z20-s2", mse: 0.011, fid: [410, 412, 408])),
        ("vae_std_z20_res-s1", handMadeResults("vae_std_z20_res-s1", mse: 0.0100, fid: [380])),
        ("vae_std_z20_res-s2", handMadeResults("vae_std_z20_res-s2", mse: 0.0104, fid: [384])),
        ("wae-s2", handMadeResults("wae-s2", mse: 0.009, fid: nil)),
    ]

    @Test func groupsMeansAndSpreads() throws {
        let groups = SeedAggregation.groups(Self.runs)
        #expect(groups.map(\.run) == ["vae_std_z20", "vq_vae", "vae_std_z20_res", "wae"])

        let std = groups[0]
        #expect(std.isSeeded && std.seeds == [1, 2, 3])
        #expect(std.members.map(\.folderName) == ["vae_std_z20-s1", "vae_std_z20-s2", "vae_std_z20-s3"])
        #expect(std.mse.count == 3 && close(std.mse.mean, 0.011) && close(std.mse.standardDeviation, 0.001))
        let fid = try #require(std.fid[SeedAggregation.priorSampler])
        #expect(fid.overSeeds.values == [400, 410, 390])
        #expect(close(fid.overSeeds.mean, 400) && close(fid.overSeeds.standardDeviation, 10))
        // Draw stds 2, 2, 4 with 2 degrees of freedom each: sqrt((4 + 4 + 16) / 3).
        #expect(close(fid.pooledDrawStandardDeviation, 8.0.squareRoot()))
        #expect(fid.draws == [3, 3, 3])
        #expect(close(fid.drawNoiseOfSeedMean, (8.0 / 3).squareRoot()))

        // A folder without suffix: a group of one, no spread over seeds.
        let vq = groups[1]
        #expect(!vq.isSeeded && vq.members.count == 1 && vq.seeds.isEmpty)
        #expect(vq.mse.standardDeviation == nil && vq.mse.mean == 0.003)
        #expect(vq.fid["prior"]?.overSeeds.standardDeviation == nil)
        #expect(close(vq.fid["prior"]?.pooledDrawStandardDeviation, 12.5.squareRoot()))

        // One draw per seed: a spread over seeds but none over draws.
        let res = try #require(groups[2].fid["prior"])
        #expect(close(res.overSeeds.mean, 382) && close(res.overSeeds.standardDeviation, 8.0.squareRoot()))
        #expect(res.pooledDrawStandardDeviation == nil && res.drawNoiseOfSeedMean == nil)

        // One seed of a seeded run: no spread; no generation metrics: no FID entry.
        let wae = groups[3]
        #expect(wae.isSeeded && wae.seeds == [2] && wae.mse.standardDeviation == nil && wae.fid.isEmpty)
        #expect(wae.statistic { $0.generation?.kid.mean } == nil)
        #expect(std.statistic { $0.generation?.kid.mean }?.mean == 10)
    }

    @Test func otherSamplersAggregateThroughTheExtractor() throws {
        // A second sampler whose FID is the prior's minus 100, missing in one seed of vae_std_z20_res.
        let extractor: SeedAggregation.FIDExtractor = { results in
            var fids = SeedAggregation.fidsBySampler(results)
            if let prior = fids["prior"], results.run != "vae_std_z20_res-s2" {
                fids["gmm"] = FIDSummary(values: prior.values.map { $0 - 100 })
            }
            return fids
        }
        let groups = SeedAggregation.groups(Self.runs, fids: extractor)
        let gmm = try #require(groups[0].fid["gmm"])
        #expect(close(gmm.overSeeds.mean, 300) && close(gmm.overSeeds.standardDeviation, 10))
        #expect(close(gmm.pooledDrawStandardDeviation, 8.0.squareRoot()))
        #expect(groups[2].fid["gmm"] == nil && groups[2].fid["prior"] != nil)
        #expect(SeedAggregation.orderedSamplers(["learned", "gmm", "prior"]) == ["prior", "gmm", "learned"])
    }

    @Test func unseededAndSeededFoldersOfOneNameStaySeparate() {
        let groups = SeedAggregation.groups([
            ("vae_std_z20", handMadeResults("vae_std_z20", mse: 0.01, fid: nil)),
            ("vae_std_z20-s1", handMadeResults("vae_std_z20-s1", mse: 0.02, fid: nil)),
            ("vae_std_z20-s2", handMadeResults("vae_std_z20-s2", mse: 0.03, fid: nil)),
        ])
        #expect(groups.map(\.run) == ["vae_std_z20", "vae_std_z20"])
        #expect(groups.map(\.members.count) == [1, 2])
        #expect(SeedAggregation.representativeFolders(["a-s2", "a-s10", "a-s1", "b", "c-s3"]) == ["a-s1", "b", "c-s3"])
    }

    @Test func comparisonRule() throws {
        // Clearly different: scipy.stats.ttest_ind(a, b, equal_var=False) gives p = 0.0031 (see StudentTTests).
        let clear = SeedComparison(metric: "FID", first: "a", SeedStatistic(values: [1.0, 1.2, 0.9]),
                                   second: "b", SeedStatistic(values: [2.0, 2.3, 1.9]))
        #expect(clear.verdict == .larger)
        #expect(close(clear.difference, -1.0333333333333334, 1e-12))
        #expect(close(clear.spreadRatio, 4.002082791080998, 1e-12))
        // Within the spread: p = 0.130.
        let within = SeedComparison(metric: "FID", first: "a", SeedStatistic(values: [385.4, 391.0, 379.9]),
                                    second: "b", SeedStatistic(values: [395.7, 388.1, 401.5]))
        #expect(within.verdict == .within)
        #expect(close(within.spreadRatio, 1.1091102945215656, 1e-12))
        #expect(close(within.test?.pValue, 0.12965812478485425, 1e-9))
        // One seed: no spread to compare against.
        let single = SeedComparison(metric: "FID", first: "a", SeedStatistic(values: [1]),
                                    second: "b", SeedStatistic(values: [5, 6, 7]))
        #expect(single.verdict == .unavailable && single.spreadRatio == nil && single.test == nil)
    }

    @Test func neighboursInFIDOrder() {
        let groups = SeedAggregation.groups(Self.runs)
        let pairs = SeedComparison.neighbours(groups, metric: "FID") { $0.fid["prior"]?.overSeeds }
        // FID means: vae_std_z20_res 382, vae_std_z20 400, vq_vae 562.5 (wae has none).
        #expect(pairs.map { "\($0.first)>\($0.second)" } == ["vae_std_z20>vae_std_z20_res", "vq_vae>vae_std_z20"])
        #expect(pairs.map(\.verdict) == [.within, .unavailable])
    }
}
