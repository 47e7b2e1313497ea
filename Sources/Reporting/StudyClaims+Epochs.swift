import Foundation

/// The `moreEpochs` claims ("needs more than 10 epochs"), answered by the longer study's snapshots.
extension StudyClaims {
    /// The epoch of the study protocol that a longer training is compared with.
    public static let protocolEpochs = 10

    /// The verdict on a `moreEpochs` claim from each run's curve (the mean over its seeds' curves, epoch by epoch):
    /// with r = (value at epoch 10 - value at the last epoch) / value at epoch 10 (lower is better for MSE and FID),
    /// **confirmed** when r > tolerance (default 5 %) for every run, **contradicted** when r <= 0 for a run (longer
    /// training brings nothing), else **not shown**; **not measured** without a curve reaching past epoch 10.
    /// The test text also counts the intervals between snapshots in which the metric rose (instability).
    public static func checkEpochs(_ claim: StudyClaim, ours: [(run: String, statistic: SeedStatistic?)],
                                   curves: (_ run: String) -> [EpochCurve]) -> ClaimCheck {
        precondition(claim.kind == .moreEpochs, "checkEpochs: claim \(claim.id) is \(claim.kind.rawValue)")
        let tolerance = claim.tolerance ?? 0.05
        var tests: [String] = [], changes: [Double] = []
        for run in claim.runs {
            let series = meanSeries(curves(run).map { $0.values(claim.metric) })
            guard let start = series.first(where: { $0.epoch == protocolEpochs }), let last = series.last,
                  last.epoch > protocolEpochs, start.value != 0 else {
                return ClaimCheck(claim: claim, verdict: .notMeasured, ours: ours,
                                  tests: tests + ["\(run): no snapshots at epoch \(protocolEpochs) and beyond (the longer study)"])
            }
            let r = (start.value - last.value) / abs(start.value)
            changes.append(r)
            let rises = zip(series, series.dropFirst()).filter { $1.value > $0.value }.count
            let digits = claim.metric == .mse ? "%.5f" : "%.1f"
            tests.append("\(run): epoch \(start.epoch) " + String(format: digits, start.value) + " → epoch \(last.epoch) "
                + String(format: digits, last.value) + String(format: " (%+.1f%%)", -100 * r)
                + "; rose in \(rises) of \(series.count - 1) intervals")
        }
        let verdict: ClaimVerdict = changes.contains { $0 <= 0 } ? .contradicted
            : (changes.allSatisfy { $0 > tolerance } ? .confirmed : .notShown)
        tests.append(String(format: "confirmed if better by more than %.0f%% at the last epoch", 100 * tolerance))
        return ClaimCheck(claim: claim, verdict: verdict, ours: ours, tests: tests)
    }

    /// The mean of several series at the epochs all of them have.
    static func meanSeries(_ series: [[(epoch: Int, value: Double)]]) -> [(epoch: Int, value: Double)] {
        guard let first = series.first else { return [] }
        return first.compactMap { point in
            let values = series.compactMap { s in s.first { $0.epoch == point.epoch }?.value }
            return values.count == series.count ? (point.epoch, values.reduce(0, +) / Double(values.count)) : nil
        }
    }
}
