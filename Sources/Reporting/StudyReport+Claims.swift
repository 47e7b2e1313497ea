import Foundation

/// The reference study's claims checked against the results, and the log-likelihood and latent-usage table.
extension StudyReport {
    /// A run's statistic over its seeds for a claim's metric (prior samples' LeNet FID).
    func claimStatistic(_ run: String, _ metric: StudyClaim.Metric) -> SeedStatistic? {
        guard let g = Self.group(run, in: seedGroups) else { return nil }
        switch metric {
        case .mse: return g.mse
        case .fid: return g.fid[SeedAggregation.priorSampler]?.overSeeds
        case .epochSeconds: return secondsPerEpoch(g)
        }
    }

    /// One row per claim of `claims` (and the batch-norm claim when its runs are here); nil without claims.
    var claimsSection: String? {
        guard !claims.isEmpty else { return nil }
        let curves = epochCurves.isEmpty ? nil : { (run: String) in self.curves(of: run) }
        let checks = claims.map { StudyClaims.check($0, statistic: claimStatistic, curves: curves) }
        var md = "## The reference study's claims\n\n"
        md += "Each conclusion of the reference study (`fixtures/claims.json`) as a statement tested on our runs: every pair "
        md += "it compares by Welch's two-sided test at 5 % over the training seeds. **confirmed**: the tests show what it "
        md += "asserts; **not shown**: the differences are within the spread over seeds (or a run has one seed); "
        md += "**contradicted**: a test shows the opposite; **not measured**: a run is missing, or the claim is about "
        md += "longer training and the longer study's snapshots are missing (the claims about more epochs compare epoch 10 "
        md += "with the last epoch of the longer study, see below). Our FID is the LeNet FID of prior samples; the reference study's is an Inception FID, so "
        md += "only the directions compare, not the values.\n\n"
        md += StudyClaims.markdown(checks)
        let pairs = batchNormTests
        if !pairs.isEmpty {
            md += "| Batch normalization did not significantly improve results but slowed training | tested, no significant "
            md += "improvement, slower | see the batch-normalization section | per pair: quality not lower, seconds per epoch "
            md += "higher | **\(BatchNormClaim.verdict(pairs.map(\.tests)).rawValue)** |\n"
        }
        let counts = Dictionary(grouping: checks, by: \.verdict).mapValues(\.count)
        md += "\n" + [ClaimVerdict.confirmed, .notShown, .contradicted, .notMeasured].compactMap { verdict in
            counts[verdict].map { "\($0) \(verdict.rawValue)" }
        }.joined(separator: ", ") + " (of the claims file's \(checks.count)).\n"
        let fidClaims = claims.filter { $0.metric == .fid }
        if hasInception, !fidClaims.isEmpty {
            md += "\nThe FID claims in pytorch-fid's Inception feature space (the reference study's own, so here the values "
            md += "compare too), tested the same way:\n\n"
            md += StudyClaims.markdown(fidClaims.map { StudyClaims.check($0, statistic: inceptionClaimStatistic) },
                                       fidLabel: "FID (Inception, prior)")
        }
        return md
    }

    /// Importance-weighted log-likelihood and active units per run; nil when no run has latent results.
    var latentSection: String? {
        let groups = seedGroups.filter { g in g.members.contains { $0.results.latent != nil } }
        guard !groups.isEmpty else { return nil }
        let estimates = groups.flatMap { $0.members.compactMap { $0.results.latent?.logLikelihood } }
        var md = "## Log-likelihood and latent usage\n\n"
        if let first = estimates.first {
            md += "log p(x): the importance-weighted bound (IWAE, Burda et al. 2016) with k = \(first.samples) samples per "
            md += "image on the first \(first.images) test images, in nats per image under the training likelihood (a "
            md += "Bernoulli decoder scored on the [0, 1] intensities, as the BCE loss; not binarised MNIST). It lies above "
            md += "the ELBO (−ELBO's negative). SE: the estimate's standard error over images (one seed's; the mean over "
            md += "seeds' when several). "
        }
        md += "Active units: latent dimensions with Cov_x(E_q[z_u|x]) > 0.01 over the test set.\n\n"
        md += "| run | n | log p(x) (nats) | SE | −ELBO | active units |\n|---|---:|---:|---:|---:|---:|\n"
        for g in groups {
            let ll = g.statistic { $0.latent?.logLikelihood?.meanNats }
            let se = g.statistic { $0.latent?.logLikelihood?.standardError }
            let active = g.statistic { $0.latent.map { Double($0.activeUnits) } }
            let size = g.members.first?.results.latent?.latentSize
            md += "| \(g.run) | \(g.members.count) | \(pm(ll, 2)) | \(se.map { f($0.mean, 2) } ?? "—") | "
            md += "\(pm(g.statistic { $0.reconstruction.negativeELBO }, 2, missing: "n/a")) | "
            md += "\(pm(active, 1)) \(size.map { "of \($0)" } ?? "") |\n"
        }
        return md
    }
}
