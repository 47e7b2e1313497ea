import Foundation
import Storage
#if canImport(Glibc)
import Glibc
#endif

/// Progress of one long stage over items (e.g. "Inception features of 10,000 test images") on standard error: on a
/// terminal a live line with a bar, items/s and the ETA, redrawn at most every 0.2 s; otherwise (and at the end) one
/// line per stage with the count, the time and the rate.
///
/// `update` may be called from any thread, one call at a time (as `InceptionV3.features` reports its groups).
public final class StageProgress: @unchecked Sendable {
    // Sendable: the mutable state is touched only by `update` and `finish`, which callers make one call at a time.
    let stage: String, total: Int, unit: String
    let live: Bool
    let write: (String) -> Void
    private let start = Date()
    private var lastDraw = Date.distantPast

    public init(stage: String, total: Int, unit: String = "images", live: Bool = isatty(2) != 0,
                write: @escaping (String) -> Void = StandardError.write) {
        self.stage = stage; self.total = total; self.unit = unit; self.live = live; self.write = write
    }

    /// `done` of `total` items are finished.
    public func update(_ done: Int) {
        guard live, Date().timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = Date()
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = Double(total - done) / max(rate, 1e-9)
        let width = 30, filled = total > 0 ? min(width, width * done / total) : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        write(String(format: "\r%@ [%@] %d/%d %.1f %@/s ETA %@ ", stage, bar, done, total, rate, unit,
                     Self.duration(done > 0 ? eta : .nan)))
    }

    /// Clears the live line and writes the stage's summary line: "<stage>: N images in 12.3 s (81.3 images/s)".
    public func finish() {
        let elapsed = Date().timeIntervalSince(start)
        if live { write("\r\u{1B}[K") }
        write(String(format: "%@: %d %@ in %.1f s (%.1f %@/s)\n", stage, total, unit, elapsed,
                     Double(total) / max(elapsed, 1e-9), unit))
    }

    /// "42s", "3m05s", "1h02m", or "?" when unknown.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }
}
