import Foundation
import Models
import Storage
#if canImport(Glibc)
import Glibc
#endif

/// Turns training events into lines on standard error: one line per epoch with the epochs left and the run's ETA,
/// and a live bar with images/s and the ETA of the epoch and of the run when standard error is a terminal. The run's
/// ETA is the rest of the current epoch plus the epochs left at the mean epoch time of this process.
public final class ProgressReporter {
    let runName: String
    let epochs: Int
    let live: Bool
    var lastDraw = Date.distantPast
    var imagesPerEpoch = 0
    var epochSeconds: [Double] = []

    public init(runName: String, epochs: Int, live: Bool = isatty(2) != 0) {
        self.runName = runName; self.epochs = epochs; self.live = live
    }

    public func handle(_ event: TrainingEvent) {
        switch event {
        case let .batch(epoch, done, total, meanLoss, elapsed):
            imagesPerEpoch = total
            guard live, Date().timeIntervalSince(lastDraw) > 0.2 || done == total else { return }
            lastDraw = Date()
            let rate = Double(done) / max(elapsed, 1e-9)
            let eta = Double(total - done) / max(rate, 1e-9)
            let epochTime = epochSeconds.isEmpty ? Double(total) / max(rate, 1e-9) : epochSeconds.reduce(0, +) / Double(epochSeconds.count)
            let runETA = eta + Double(epochs - epoch) * epochTime
            let width = 30
            let filled = Int(Double(width) * Double(done) / Double(total))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            write(String(format: "\r%@ epoch %d/%d [%@] %5.1f%% loss %.2f %.0f img/s ETA %@ (run %@) ",
                         runName, epoch, epochs, bar, 100 * Double(done) / Double(total), meanLoss, rate,
                         durationText(eta), durationText(runETA)))
        case let .epochFinished(summary, _):
            if live { write("\r\u{1B}[K") }
            epochSeconds.append(summary.seconds)
            let left = max(0, epochs - summary.epoch)
            let remaining = left == 0 ? "done"
                : "\(left.counted("epoch")) left, ETA \(durationText(Double(left) * epochSeconds.reduce(0, +) / Double(epochSeconds.count)))"
            write(String(format: "%@ epoch %d/%d loss %.4f (reconstruction %.4f, regularizer %.4f) %.2fs, %.0f img/s; %@\n",
                         runName, summary.epoch, epochs, summary.loss, summary.reconstruction, summary.regularizer,
                         summary.seconds, Double(imagesPerEpoch) / max(summary.seconds, 1e-9), remaining))
        }
    }

    private func write(_ text: String) { StandardError.write(text) }
}
