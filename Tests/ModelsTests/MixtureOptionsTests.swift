import Autodiff
import Foundation
import Models
import Testing

/// The GM-VAE family's options (`mixtureInference`, `learnedMixtureWeights`, `categoricalKLWeight`,
/// `priorMeanScale`) against direct Double computations, and their configuration files.
@Suite struct MixtureOptionsTests {
    static func small(_ edit: (inout ModelConfiguration) -> Void) -> ModelConfiguration {
        var c = GMVAETests.smallConfiguration()
        edit(&c)
        return c
    }

    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-4 * max(1, abs(b)) }

    /// log softmax of `a` in Double.
    static func logSoftmax(_ a: [Double]) -> [Double] {
        let m = a.max()!, s = a.reduce(0) { $0 + exp($1 - m) }
        return a.map { $0 - m - log(s) }
    }

    /// Learned mixture weights enter KL(q(y|x) || p(y)) and the ELBO; the categorical weight scales that KL in the
    /// training loss only.
    @Test func learnedWeightsAndCategoricalWeightMatchTheDirectComputation() throws {
        let configuration = Self.small { $0.learnedMixtureWeights = true; $0.categoricalKLWeight = 0.5 }
        let model = try GMVAETests.makeModel(configuration)
        let logits = try #require(model.priorLogits)
        #expect(logits.shape == [1, 4] && logits.data == [0, 0, 0, 0])
        #expect(model.namedParameters.last?.name == "prior.logits")
        var g = SeededGenerator(seed: 7)
        logits.data = (0..<4).map { _ in g.nextUniform(in: -2, 2) }
        model.priorMeans.data = model.priorMeans.data.map { $0 + g.nextUniform(in: -1, 1) }
        let batch = 3, x = ModelTests.tinyBatch(batch, pixels: 12)
        var noiseGenerator = SeededGenerator(seed: 11)
        let noise = noiseGenerator.normals(4 * batch * 3)
        let logP = Self.logSoftmax(logits.data.map(Double.init))
        #expect(zip(model.mixtureLogWeights, logP).allSatisfy { abs($0 - $1) < 1e-12 })
        let direct = GMVAETests.directLoss(model, images: x.data.map(Double.init), batch: batch, noise: noise, logWeights: logP)
        var lossGenerator = SeededGenerator(seed: 11)
        let output = model.loss(x, generator: &lossGenerator)
        #expect(Self.close(output.reconstruction, direct.reconstruction))
        #expect(Self.close(output.regularizer, direct.regularizer), "\(output.regularizer) vs \(direct.regularizer)")
        let weighted = direct.reconstruction + direct.regularizer - 0.5 * direct.categorical
        #expect(Self.close(Double(output.total.scalar), weighted), "\(output.total.scalar) vs \(weighted)")
        var elboGenerator = SeededGenerator(seed: 11)
        let elbo = try #require(model.negativeELBO(x, generator: &elboGenerator))
        for (ours, theirs) in zip(elbo, direct.perImage) { #expect(Self.close(ours, theirs), "\(ours) vs \(theirs)") }
        // The logits get a gradient: p(y) is learned.
        output.total.backward()
        #expect(logits.grad?.contains { $0 != 0 } == true)
    }

    /// Samples follow the learned weights: nearly all from the component the logits favour.
    @Test func samplingFollowsLearnedWeights() throws {
        for kind in [MixtureInference.categorical, .vade] {
            var g = SeededGenerator(seed: 1)
            let c = Self.small { $0.learnedMixtureWeights = true; $0.mixtureInference = kind }
            let model = try ModelFactory.make(c, generator: &g)
            let ys: [Int]
            var draws = SeededGenerator(seed: 5)
            if let gm = model as? GMVAE {
                try #require(gm.priorLogits).data = [0, 0, 6, 0]
                ys = gm.sampleWithComponents(count: 400, generator: &draws).components
            } else {
                let vade = try #require(model as? VaDE)
                try #require(vade.priorLogits).data = [0, 0, 6, 0]
                ys = vade.sampleWithComponents(count: 400, generator: &draws).components
            }
            // p(2) = e^6 / (e^6 + 3) = 0.9926.
            let share = Double(ys.filter { $0 == 2 }.count) / 400
            #expect(share > 0.97, "\(kind): share of component 2 \(share)")
            #expect(Set(ys).isSubset(of: 0..<4))
        }
    }

    /// `priorMeanScale` scales the initial prior means; everything else is drawn as before.
    @Test func priorMeanScaleScalesTheInitialMeans() throws {
        let base = try GMVAETests.makeModel(GMVAETests.smallConfiguration())
        let wide = try GMVAETests.makeModel(Self.small { $0.priorMeanScale = 1 })
        for (a, b) in zip(base.priorMeans.data, wide.priorMeans.data) { #expect(abs(a * 10 - b) <= 1e-6 * max(1, abs(b))) }
        #expect(base.namedParameters.dropLast(2).map(\.tensor.data) == wide.namedParameters.dropLast(2).map(\.tensor.data))
    }

    /// The VaDE loss written out image by image: the MLP encoder, one reparameterised z, BCE, the Gaussian KLs to each
    /// component, and the bound at the optimal q(y|x): -log sum_y p(y) e^(-KL_y).
    @Test(arguments: [false, true])
    func vadeLossMatchesTheDirectComputation(learned: Bool) throws {
        let c = Self.small { $0.mixtureInference = .vade; $0.learnedMixtureWeights = learned }
        var g = SeededGenerator(seed: 1)
        let model = try #require(try ModelFactory.make(c, generator: &g) as? VaDE)
        var perturb = SeededGenerator(seed: 7)
        model.priorMeans.data = model.priorMeans.data.map { $0 + perturb.nextUniform(in: -1, 1) }
        model.priorLogVariances.data = model.priorLogVariances.data.map { _ in perturb.nextUniform(in: -0.5, 0.5) }
        model.priorLogits?.data = (0..<4).map { _ in perturb.nextUniform(in: -1, 1) }
        let p = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.tensor.data.map(Double.init)) })
        let logP = learned ? Self.logSoftmax(p["prior.logits"]!) : [Double](repeating: -log(4), count: 4)
        let batch = 3, pixels = 12, zSize = 3, k = 4
        let x = ModelTests.tinyBatch(batch, pixels: pixels)
        var noiseGenerator = SeededGenerator(seed: 11)
        let noise = noiseGenerator.normals(batch * zSize)
        var reconstruction = 0.0, regularizer = 0.0, perImage: [Double] = []
        for b in 0..<batch {
            let xb = x.data[(b * pixels)..<((b + 1) * pixels)].map(Double.init)
            let h = GMVAETests.affine(xb, p["encoder.fc1.weight"]!, p["encoder.fc1.bias"]!).map { max($0, 0) }
            let m = GMVAETests.affine(h, p["encoder.fc21.weight"]!, p["encoder.fc21.bias"]!)
            let lv = GMVAETests.affine(h, p["encoder.fc22.weight"]!, p["encoder.fc22.bias"]!)
            let z = (0..<zSize).map { m[$0] + Double(noise[b * zSize + $0]) * exp(lv[$0] / 2) }
            let logits = GMVAETests.affine(GMVAETests.affine(z, p["decoder.fc3.weight"]!, p["decoder.fc3.bias"]!).map { max($0, 0) },
                                           p["decoder.fc4.weight"]!, p["decoder.fc4.bias"]!)
            var bce = 0.0
            for i in 0..<pixels { let s = 1 / (1 + exp(-logits[i])); bce -= xb[i] * log(s) + (1 - xb[i]) * log(1 - s) }
            let terms = (0..<k).map { y -> Double in
                var kl = 0.0
                for j in 0..<zSize {
                    let sq = exp(lv[j] / 2), sp = exp(p["prior.log_variances"]![y * zSize + j] / 2)
                    let u = m[j] - p["prior.means"]![y * zSize + j]
                    kl += log(sp / sq) + (sq * sq + u * u) / (2 * sp * sp) - 0.5
                }
                return logP[y] - kl
            }
            let top = terms.max()!
            let bound = -(top + log(terms.reduce(0) { $0 + exp($1 - top) }))
            reconstruction += bce
            regularizer += bound
            perImage.append(bce + bound)
        }
        var lossGenerator = SeededGenerator(seed: 11)
        let output = model.loss(x, generator: &lossGenerator)
        #expect(Self.close(output.reconstruction, reconstruction), "\(output.reconstruction) vs \(reconstruction)")
        #expect(Self.close(output.regularizer, regularizer), "\(output.regularizer) vs \(regularizer)")
        #expect(Self.close(Double(output.total.scalar), reconstruction + regularizer))
        var elboGenerator = SeededGenerator(seed: 11)
        let elbo = try #require(model.negativeELBO(x, generator: &elboGenerator))
        for (ours, theirs) in zip(elbo, perImage) { #expect(Self.close(ours, theirs), "\(ours) vs \(theirs)") }
        output.total.backward()
        #expect(model.priorMeans.grad?.contains { $0 != 0 } == true)
        if learned { #expect(model.priorLogits?.grad?.contains { $0 != 0 } == true) }
    }

    /// VaDE's networks are vae_std's, drawn in the same order: the same seed gives the same initial weights.
    @Test func vadeStartsFromTheMLPVAEsWeights() throws {
        var g1 = SeededGenerator(seed: 4), g2 = SeededGenerator(seed: 4)
        let vade = try ModelFactory.make(Self.small { $0.mixtureInference = .vade }, generator: &g1)
        var mlp = GMVAETests.smallConfiguration()
        mlp.kind = .mlpVAE
        mlp.mixtureComponents = 10
        let reference = try ModelFactory.make(mlp, generator: &g2)
        let shared = vade.namedParameters.filter { !$0.name.hasPrefix("prior.") }
        #expect(shared.map(\.name) == reference.namedParameters.map(\.name))
        #expect(shared.map(\.tensor.data) == reference.namedParameters.map(\.tensor.data))
    }

    /// The importance-weighted estimate with VaDE's mixture prior lies above its ELBO on average.
    @Test func vadeImportanceWeightsBoundAboveTheELBO() throws {
        var g = SeededGenerator(seed: 1)
        let model = try #require(try ModelFactory.make(Self.small { $0.mixtureInference = .vade; $0.learnedMixtureWeights = true },
                                                       generator: &g) as? VaDE)
        let x = ModelTests.tinyBatch(4, pixels: 12)
        var draws = SeededGenerator(seed: 2)
        let samples = 2000
        let w = model.logImportanceWeights(x, samples: samples, generator: &draws)
        var elboDraws = SeededGenerator(seed: 3)
        var elbo = [Double](repeating: 0, count: 4)
        for _ in 0..<200 { for (b, v) in try #require(model.negativeELBO(x, generator: &elboDraws)).enumerated() { elbo[b] += v / 200 } }
        for b in 0..<4 {
            let estimate = logSumExp((0..<samples).map { w[$0 * 4 + b] }) - log(Double(samples))
            #expect(estimate >= -elbo[b] - 1e-3, "image \(b): log p(x) estimate \(estimate) below the ELBO \(-elbo[b])")
        }
    }

    /// The options are written only when set (the study's gm_vae keeps its JSON), read back, and refused where they do
    /// not apply.
    @Test func configurationFilesKeepTheirJSONAndRefuseMisplacedOptions() throws {
        let plain = ModelConfiguration(kind: .gmVAE).jsonString()
        for key in ["mixtureInference", "learnedMixtureWeights", "categoricalKLWeight", "priorMeanScale"] {
            #expect(!plain.contains(key), "\(key) in \(plain)")
        }
        var c = ModelConfiguration(kind: .gmVAE)
        c.mixtureInference = .vade; c.learnedMixtureWeights = true; c.priorMeanScale = 0.5
        let decoded = try JSONDecoder().decode(ModelConfiguration.self, from: Data(c.jsonString().utf8))
        #expect(decoded == c && c.jsonString().contains("\"mixtureInference\":\"vade\""))
        try c.validate()
        var weighted = c
        weighted.categoricalKLWeight = 0.5
        #expect(throws: ModelError.self) { try weighted.validate() }
        var other = ModelConfiguration(kind: .mlpVAE)
        other.learnedMixtureWeights = true
        #expect(throws: ModelError.self) { try other.validate() }
        var negative = ModelConfiguration(kind: .gmVAE)
        negative.priorMeanScale = -1
        #expect(throws: ModelError.self) { try negative.validate() }
    }
}
