import Foundation

/// The one place that writes to standard error: the commands' progress, notes and log lines.
public enum StandardError {
    /// Writes `text` as it is (progress bars rewrite their line with a carriage return).
    public static func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    /// Writes `text` and a newline.
    public static func line(_ text: String) { write(text + "\n") }
}
