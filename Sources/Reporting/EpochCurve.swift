import Foundation

/// A run's test MSE and prior-sample FID against training epochs, measured on its snapshots
/// (`TrainingSettings.checkpointEvery`). Stored as `RUN/epoch-results.json` by `vae-eval report`.
public struct EpochCurve: Codable, Equatable, Sendable {
    /// One snapshot's figures.
    public struct Point: Codable, Equatable, Sendable {
        public var epoch: Int
        /// Test MSE (mean of q(z|x) decoded), per pixel on the [0, 1] scale.
        public var meanSquaredError: Double
        /// FID of prior samples in the LeNet feature space, mean and std over draws; nil without a feature network.
        public var fid: Double?
        public var fidStandardDeviation: Double?
        /// SHA-256 of the snapshot's checkpoint the figures belong to.
        public var checkpointSHA256: String

        public init(epoch: Int, meanSquaredError: Double, fid: Double?, fidStandardDeviation: Double?,
                    checkpointSHA256: String) {
            self.epoch = epoch; self.meanSquaredError = meanSquaredError; self.fid = fid
            self.fidStandardDeviation = fidStandardDeviation; self.checkpointSHA256 = checkpointSHA256
        }
    }

    /// The run folder's name (`<run>` or `<run>-s<seed>`).
    public var run: String
    /// By epoch.
    public var points: [Point]

    public init(run: String, points: [Point]) {
        self.run = run
        self.points = points.sorted { $0.epoch < $1.epoch }
    }

    /// The value of `metric` at each epoch (MSE or FID; nil for other metrics), skipping points without it.
    public func values(_ metric: StudyClaim.Metric) -> [(epoch: Int, value: Double)] {
        points.compactMap { p in
            switch metric {
            case .mse: return (p.epoch, p.meanSquaredError)
            case .fid: return p.fid.map { (p.epoch, $0) }
            case .epochSeconds: return nil
            }
        }
    }
}
