import Storage

/// The file formats a plot can be rendered to.
public enum PlotFormat: String, CaseIterable {
    /// A raster image, one pixel per drawing unit (a 900 x 600 plot is a 900 x 600 pixel PNG).
    case png
    /// Scalable vector graphics; one drawing unit is one CSS pixel. Text is drawn as glyph outlines.
    case svg
    /// A single-page PDF; one drawing unit is one point (1/72 inch).
    case pdf

    /// The format named by the extension of `path` (`.png`, `.svg` or `.pdf`, any letter case),
    /// or `nil` if the extension is missing or unknown.
    public init?(path: String) {
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        self.init(rawValue: name[name.index(after: dot)...].lowercased())
    }
}

/// Errors from rendering or writing plots. Each message says what went wrong and what to do.
public enum PlottingError: Error, CustomStringConvertible, Equatable {
    /// The file name's extension names no `PlotFormat`.
    case unknownFormat(path: String)
    /// The requested size is not finite, too small to hold the axes, or too large.
    case invalidSize(width: Double, height: Double)
    /// Cairo reported an error status during `operation`.
    case cairo(operation: String, status: String)
    /// Writing the finished plot failed; nothing was left under the path.
    case file(FileError)

    public var description: String {
        switch self {
        case let .unknownFormat(path):
            let known = PlotFormat.allCases.map { "." + $0.rawValue }.joined(separator: ", ")
            return "cannot tell the plot format of \(path): the file name must end in one of \(known)"
        case let .invalidSize(width, height):
            return "invalid plot size \(width) x \(height): width and height must be between "
                + "\(Int(PlotSize.minimum)) and \(Int(PlotSize.maximum)) units"
        case let .cairo(operation, status):
            return "cairo failed to \(operation): \(status)"
        case let .file(error):
            return error.description
        }
    }
}

/// Limits on the size of a rendered plot, in drawing units.
enum PlotSize {
    static let minimum = 200.0
    static let maximum = 16_384.0

    static func validate(width: Double, height: Double) throws {
        guard width.isFinite, height.isFinite,
              (minimum...maximum).contains(width), (minimum...maximum).contains(height) else {
            throw PlottingError.invalidSize(width: width, height: height)
        }
    }
}

/// Renders with `render` in the format named by `path`'s extension and writes the bytes atomically.
func writePlot(to path: String, render: (PlotFormat) throws -> [UInt8]) throws {
    guard let format = PlotFormat(path: path) else { throw PlottingError.unknownFormat(path: path) }
    let bytes = try render(format)
    do {
        try bytes.withUnsafeBytes { try AtomicFile.write(bytes: $0, to: path) }
    } catch let error as FileError {
        throw PlottingError.file(error)
    }
}
