extension Int {
    /// "1 epoch", "3 epochs": the count with its noun in the singular for exactly one, else `plural`
    /// (default: `singular` + "s").
    public func counted(_ singular: String, plural: String? = nil) -> String {
        "\(self) " + (self == 1 ? singular : plural ?? singular + "s")
    }
}

/// Seconds as "45 s", "12 min 5 s" or "2 h 3 min", for progress lines.
public func durationText(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    if s < 60 { return "\(s) s" }
    if s < 3600 { return "\(s / 60) min \(s % 60) s" }
    return "\(s / 3600) h \(s % 3600 / 60) min"
}
