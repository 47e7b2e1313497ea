import Autodiff
import Datasets
import Evaluation
import Foundation
import Models
import Testing
import TestSupport

/// Sampler choice at evaluation time: which samplers apply to which model, parsing `--sampler`, the gmm sampler's
/// cache next to the run (reused only when checkpoint, data and settings match; a corrupt file is refitted), and
/// results.json written before samplers existed.
@Suite struct SamplerTests {
    @Test func applicabilityFollowsTheLatent() throws {
        let expected: [ModelKind: [SamplerKind]] = [.mlpVAE: [.prior, .gmm], .convVAE: [.prior, .gmm], .wae: [.prior, .gmm],
                                                    .gmVAE: [.prior, .gmm], .vqVAE: [.prior, .learned]]
        for (kind, samplers) in expected {
            #expect(SamplerKind.applicable(to: try #require(ModelFactory.family(of: kind))) == samplers, "\(kind)")
        }
    }

    @Test func inapplicableSamplerIsAOneLineErrorNamingRunAndApplicableSamplers() throws {
        #expect(try SamplerRequest.all.resolve(for: VQVAE.self, run: "vq_vae") == [.prior, .learned])
        #expect(throws: SamplerError.self) { try SamplerRequest.only([.learned]).resolve(for: MLPVAE.self, run: "vae_std_z20") }
        #expect(try SamplerRequest.all.resolve(for: WAE.self, run: "wae") == [.prior, .gmm])
        #expect(try SamplerRequest.only([.gmm, .prior, .gmm]).resolve(for: GMVAE.self, run: "gm_vae") == [.prior, .gmm])
        do {
            _ = try SamplerRequest.only([.prior, .gmm]).resolve(for: VQVAE.self, run: "vq_vae-s2")
            Issue.record("gmm resolved for a VQ-VAE")
        } catch let error as SamplerError {
            let text = error.description
            #expect(!text.contains("\n"))
            #expect(text.contains("gmm") && text.contains("vq_vae-s2") && text.hasSuffix("applicable samplers: prior, learned"), "\(text)")
        }
    }

    @Test func parsesNamesCommaListsAndAll() throws {
        #expect(try SamplerRequest.parse([]) == .only([.prior]))
        #expect(try SamplerRequest.parse(["gmm"]) == .only([.gmm]))
        #expect(try SamplerRequest.parse(["prior,gmm"]) == .only([.prior, .gmm]))
        #expect(try SamplerRequest.parse(["gmm", "prior"]) == .only([.gmm, .prior]))
        #expect(try SamplerRequest.parse(["prior", "all"]) == .all)
        #expect(throws: SamplerError.unknown("flow")) { try SamplerRequest.parse(["prior,flow"]) }
        #expect(SamplerError.unknown("flow").description.contains("prior, gmm, learned, all"))
    }

    // MARK: The gmm sampler's cache

    /// An untrained MLP VAE, a tiny "training set" of random images and a temporary run folder.
    final class Fixture {
        let folder: RunFolder
        let model: any GenerativeModel
        let training: MNISTSplit
        private(set) var loads = 0
        var logs: [String] = []

        init() throws {
            folder = RunFolder(path: NSTemporaryDirectory() + "sampler-tests-" + UUID().uuidString)
            try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
            var g = SeededGenerator(seed: 7)
            model = try ModelFactory.make(try ShippedStudy.configuration("vae_std_z20"), generator: &g)
            let count = 150
            training = MNISTSplit(images: (0..<(count * 784)).map { _ in g.nextUniform() },
                                  labels: [UInt8](repeating: 0, count: count), rows: 28, columns: 28)
        }
        deinit { try? FileManager.default.removeItem(atPath: folder.path) }

        func fit(sha: String = "sha-a", data: String = "data-a", settings: MixtureFitSettings = Fixture.settings)
            throws -> (file: MixtureSamplerFile, reused: Bool) {
            try MixtureSamplerCache.loadOrFit(model: model, folder: folder, checkpointSHA256: sha, dataChecksum: data,
                                              settings: settings, trainingSet: { self.loads += 1; return self.training },
                                              log: { self.logs.append($0) })
        }

        static let settings = MixtureFitSettings(components: 3, iterations: 5, tolerance: 1e-6, seed: 1)
        var cachePath: String { MixtureSamplerCache.path(in: folder) }
    }

    @Test func cacheIsReusedOnlyWhenCheckpointDataAndSettingsMatch() throws {
        let f = try Fixture()
        let first = try f.fit()
        #expect(!first.reused && f.loads == 1)
        #expect(first.file.trainingImages == 150 && first.file.mixture.dimension == 20 && first.file.mixture.components == 3)
        #expect(first.file.fitSeconds > 0 && first.file.fitSeconds >= first.file.encodeSeconds)
        #expect(first.file.logLikelihoods.count >= 2)
        #expect(FileManager.default.fileExists(atPath: f.folder.path + "/sampler-gmm.json"))

        let again = try f.fit()
        #expect(again.reused && f.loads == 1)
        #expect(again.file == first.file)

        // Any part of the key changed (one at a time, from the previous fit): refitted, and the file holds the new key.
        var reseeded = Fixture.settings
        reseeded.seed = 2
        var moreComponents = reseeded
        moreComponents.components = 4
        var fewerIterations = moreComponents
        fewerIterations.iterations = 4
        var looser = fewerIterations
        looser.tolerance = 1e-3
        let changes: [(String, () throws -> (file: MixtureSamplerFile, reused: Bool))] = [
            ("checkpoint", { try f.fit(sha: "sha-b") }), ("data", { try f.fit(sha: "sha-b", data: "data-b") }),
            ("fit settings", { try f.fit(sha: "sha-b", data: "data-b", settings: reseeded) }),
            ("fit settings", { try f.fit(sha: "sha-b", data: "data-b", settings: moreComponents) }),
            ("fit settings", { try f.fit(sha: "sha-b", data: "data-b", settings: fewerIterations) }),
            ("fit settings", { try f.fit(sha: "sha-b", data: "data-b", settings: looser) }),
        ]
        for (index, (what, fit)) in changes.enumerated() {
            let result = try fit()
            #expect(!result.reused, "change \(index) (\(what)) reused the cache")
            #expect(f.loads == index + 2)
            #expect(f.logs.dropLast().last?.hasPrefix("gmm sampler: fitting (the \(what) changed") == true, "\(f.logs.suffix(2))")
        }
        #expect(try f.fit(sha: "sha-b", data: "data-b", settings: looser).reused)
        #expect(!(try f.fit()).reused)
    }

    @Test(arguments: ["", "{", "not json at all", #"{"format":"vae-toolkit-gmm-sampler"}"#, "corrupt-mixture", "wrong-dimension"])
    func corruptCacheIsRefittedNotACrash(content: String) throws {
        let f = try Fixture()
        let fitted = try f.fit()
        var text = content
        if content == "corrupt-mixture" || content == "wrong-dimension" {
            var json = try String(contentsOfFile: f.cachePath, encoding: .utf8)
            if content == "corrupt-mixture" {
                // A covariance that is not positive definite: decoding must reject it.
                let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
                var mixture = object["mixture"] as! [String: Any]
                var covariances = mixture["covariances"] as! [Double]
                covariances[0] = -1
                mixture["covariances"] = covariances
                var copy = object
                copy["mixture"] = mixture
                json = String(decoding: try JSONSerialization.data(withJSONObject: copy), as: UTF8.self)
            } else {
                let one = #"{"dimension":1,"weights":[1],"means":[0],"covariances":[1]}"#
                let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
                var copy = object
                copy["mixture"] = try JSONSerialization.jsonObject(with: Data(one.utf8))
                json = String(decoding: try JSONSerialization.data(withJSONObject: copy), as: UTF8.self)
            }
            text = json
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: f.cachePath))
        let refit = try f.fit()
        #expect(!refit.reused && f.loads == 2)
        // Bit for bit: the fit does not depend on the thread count other suites may set meanwhile.
        #expect(refit.file.mixture == fitted.file.mixture)
        let reason = f.logs.first { $0.hasPrefix("gmm sampler: fitting") && $0 != f.logs.first }
        #expect(reason?.contains(content == "wrong-dimension" ? "dimension" : "corrupt") == true, "\(f.logs)")
        #expect(try f.fit().reused)
    }

    @Test func preparedGMMSamplerDrawsDecodedImages() throws {
        let f = try Fixture()
        let context = SamplerContext(folder: f.folder, checkpointSHA256: "sha", dataChecksum: "data",
                                     mixtureFit: Fixture.settings, trainingSet: { f.training })
        let sampler = try SamplerKind.gmm.prepare(for: f.model, context: context)
        #expect(sampler.kind == .gmm && sampler.fitSeconds > 0)
        var g1 = SeededGenerator(seed: 4), g2 = SeededGenerator(seed: 4)
        let a = sampler.sample(count: 9, generator: &g1), b = sampler.sample(count: 9, generator: &g2)
        #expect(a.shape == [9, 784] && a.data == b.data)
        #expect(a.data.allSatisfy { $0 >= 0 && $0 <= 1 })
        let prior = try SamplerKind.prior.prepare(for: f.model, context: context)
        #expect(prior.fitSeconds == 0 && prior.sample(count: 2, generator: &g1).shape == [2, 784])
    }

    // MARK: results.json

    /// A results.json as written before samplers existed (vae_std_z20, seed 1, from the main checkout).
    static let oldResults = #"""
    {"checkpointSHA256":"e953f276eb0c8801f0293dabb04fbb7550196e02e1db65259a748594ef87b299","diagnostics":{},"evaluationSeed":0,"generation":{"classes":{"count":10000,"entropy":2.1860141626320027,"histogram":[617,496,1033,2330,1012,1311,520,1157,623,901],"meanMaxConfidence":0.7734132904693485},"featureLayer":"fc1_pre_relu","featureNetworkSHA256":"480a7cf66223a1283c99f773be5d5ecbad73c64d8886783f296fa985d927eb24","fid":{"mean":395.72000730322753,"standardDeviation":3.1051868588120652,"values":[394.0412932830345,393.8155303429562,399.3031982836919]},"kid":{"mean":1594.3090996755182,"standardDeviation":119.85483187637097,"subsetSize":1000,"subsets":100},"precisionRecall":{"k":3,"precision":0.6293,"recall":0.424},"referenceCount":10000,"referenceDataChecksum":"abca1685336e37aa33a42b8e8886e04e9bd739abb9c10b4340fdb3be3218f9e7","seconds":7.404270768165588,"settings":{"draws":3,"kidSubsetSize":1000,"kidSubsets":100,"precisionRecallK":3,"samples":10000,"seed":0}},"modelKind":"mlp_vae","parameterCount":652824,"reconstruction":{"imageCount":10000,"meanSquaredError":0.0102605870634037,"negativeELBO":107.2541079434748},"run":"vae_std_z20","samplesImage":"samples.png","settings":{"dataChecksum":"abca1685336e37aa33a42b8e8886e04e9bd739abb9c10b4340fdb3be3218f9e7","featureNetworkSHA256":"480a7cf66223a1283c99f773be5d5ecbad73c64d8886783f296fa985d927eb24","generation":{"draws":3,"kidSubsetSize":1000,"kidSubsets":100,"precisionRecallK":3,"samples":10000,"seed":0},"gridSize":8,"scale":1,"seed":0},"trainingEpochs":10,"trainingSeconds":21.27758014202118}
    """#

    @Test func resultsWithoutSamplersStillDecode() throws {
        let results = try JSONDecoder().decode(EvaluationResults.self, from: Data(Self.oldResults.utf8))
        #expect(results.samplers == nil && results.settings?.samplers == nil && results.settings?.mixtureFit == nil)
        #expect(results.generation?.fid.values.count == 3)
        // Encoding again keeps the old keys and adds none.
        let object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(results)) as! [String: Any]
        #expect(object["samplers"] == nil && object["generation"] != nil)
        // A new-style entry round-trips under the names other tools read.
        var upgraded = results
        upgraded.samplers = ["gmm": SamplerResults(generation: results.generation!, fitSeconds: 2.5, samplesImage: "samples-gmm.png")]
        let data = try JSONEncoder().encode(upgraded)
        let gmm = ((try JSONSerialization.jsonObject(with: data) as! [String: Any])["samplers"] as! [String: Any])["gmm"] as! [String: Any]
        #expect(Set(gmm.keys) == ["generation", "fitSeconds", "samplesImage"])
        #expect(try JSONDecoder().decode(EvaluationResults.self, from: data) == upgraded)
    }

    /// Old results (no samplers recorded) are never reused: the next evaluation recomputes and records them.
    @Test func oldResultsAreNotReusedForSamplerSettings() throws {
        let f = try Fixture()
        try Data(Self.oldResults.utf8).write(to: URL(fileURLWithPath: f.folder.results))
        try Data().write(to: URL(fileURLWithPath: f.folder.samples))
        let old = try JSONDecoder().decode(EvaluationResults.self, from: Data(Self.oldResults.utf8))
        let sha = old.checkpointSHA256
        #expect(RunEvaluation.cachedResults(f.folder, checkpointSHA256: sha, settings: old.settings!) == nil,
                "generation without a prior sampler recorded")
        var withSamplers = old.settings!
        withSamplers.samplers = ["prior"]
        #expect(RunEvaluation.cachedResults(f.folder, checkpointSHA256: sha, settings: withSamplers) == nil)
    }
}
