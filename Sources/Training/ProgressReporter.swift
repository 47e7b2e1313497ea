import Foundation
import Models
#if canImport(Glibc)
import Glibc
#endif

/// Turns training events into lines on standard error: one line per epoch, and a live bar with
/// images/s and ETA when standard error is a terminal.
public final class ProgressReporter {
    let runName: String
    let epochs: Int
    let live: Bool
    var lastDraw = Date.distantPast
    var imagesPerEpoch = 0

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
            let width = 30
            let filled = Int(Double(width) * Double(done) / Double(total))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            write(String(format: "\r%@ epoch %d/%d [%@] %5.1f%% loss %.2f %.0f img/s ETA %.0fs ",
                         runName, epoch, epochs, bar, 100 * Double(done) / Double(total), meanLoss, rate, eta))
        case let .epochFinished(summary, _):
            if live { write("\r\u{1B}[K") }
            write(String(format: "%@ epoch %d/%d loss %.4f (reconstruction %.4f, regularizer %.4f) %.2fs, %.0f img/s\n",
                         runName, summary.epoch, epochs, summary.loss, summary.reconstruction, summary.regularizer,
                         summary.seconds, Double(imagesPerEpoch) / max(summary.seconds, 1e-9)))
        }
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
