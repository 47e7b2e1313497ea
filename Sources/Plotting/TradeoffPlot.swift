import Foundation

/// One labelled point of a scatter plot, with optional symmetric error bars.
public struct ScatterPoint: Equatable {
    /// The text drawn next to the marker (e.g. a run name).
    public var label: String
    /// Horizontal coordinate.
    public var x: Double
    /// Vertical coordinate.
    public var y: Double
    /// Half-width of the horizontal error bar (e.g. a standard deviation); `nil` or non-positive for none.
    public var xError: Double?
    /// Half-height of the vertical error bar; `nil` or non-positive for none.
    public var yError: Double?

    /// Creates a point; error bars are drawn from `x - xError` to `x + xError` (likewise for `y`).
    public init(label: String, x: Double, y: Double, xError: Double? = nil, yError: Double? = nil) {
        self.label = label
        self.x = x
        self.y = y
        self.xError = xError
        self.yError = yError
    }

    /// Whether both coordinates are finite, i.e. whether the point is drawn at all.
    var isFinite: Bool { x.isFinite && y.isFinite }
}

/// Where a point's label was placed, in drawing units (`y` grows downwards).
public struct LabelBox: Equatable {
    /// Index of the labelled point in `TradeoffPlot.points`.
    public var pointIndex: Int
    /// The label text.
    public var label: String
    /// The rectangle the label (with its background) occupies.
    public var frame: PlotRect
    /// The rectangle the point's marker occupies.
    public var marker: PlotRect
    /// Whether the label sits away from its marker and is joined to it by a leader line.
    public var hasLeaderLine: Bool

    /// Creates a label box.
    public init(pointIndex: Int, label: String, frame: PlotRect, marker: PlotRect, hasLeaderLine: Bool) {
        self.pointIndex = pointIndex
        self.label = label
        self.frame = frame
        self.marker = marker
        self.hasLeaderLine = hasLeaderLine
    }
}

/// An error bar as laid out: the rectangle its line and its end caps occupy, in drawing units.
public struct ErrorBarBox: Equatable {
    /// Index of the point in `TradeoffPlot.points`.
    public var pointIndex: Int
    /// Whether the bar is horizontal (the `xError`) or vertical (the `yError`).
    public var isHorizontal: Bool
    /// From cap to cap along the bar, the cap length across it.
    public var frame: PlotRect

    /// Creates an error-bar box.
    public init(pointIndex: Int, isHorizontal: Bool, frame: PlotRect) {
        self.pointIndex = pointIndex
        self.isHorizontal = isHorizontal
        self.frame = frame
    }
}

/// Where the parts of a trade-off plot land for one size: the plot area, the axis ranges (data units) and
/// the error bars and labels (drawing units).
public struct TradeoffGeometry: Equatable {
    /// The framed plot area.
    public var plot: PlotRect
    /// The data range of the horizontal axis (left to right edge of `plot`).
    public var xRange: ClosedRange<Double>
    /// The data range of the vertical axis (bottom to top edge of `plot`).
    public var yRange: ClosedRange<Double>
    /// The drawn error bars, by point index, horizontal before vertical.
    public var errorBars: [ErrorBarBox]
    /// The labels, in point order.
    public var labels: [LabelBox]
}

/// A scatter plot of a trade-off between two costs where lower is better on both axes (e.g. reconstruction
/// MSE against FID), with labelled points, error bars and the Pareto front drawn as a step line.
///
/// Labels are placed so that they overlap neither each other nor any marker: each label tries positions
/// around its point (right, left, above, below, diagonals), then further out joined by a leader line.
/// Among the positions next to the marker and the first ring out, one that crosses no error bar is preferred.
public struct TradeoffPlot {
    /// The main title, e.g. naming the feature network the FID is computed with.
    public var title: String
    /// A smaller second line under the title, if any.
    public var subtitle: String?
    /// Horizontal axis label, with units.
    public var xLabel: String
    /// Vertical axis label, with units.
    public var yLabel: String
    /// The points; those with a non-finite coordinate are skipped.
    public var points: [ScatterPoint]

    /// Creates a trade-off plot.
    public init(title: String, subtitle: String? = nil, xLabel: String, yLabel: String,
                points: [ScatterPoint]) {
        self.title = title
        self.subtitle = subtitle
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.points = points
    }

    /// Indices of the Pareto-optimal points when minimising both `x` and `y`: the points that no other point
    /// dominates (is <= in both coordinates and < in at least one).
    ///
    /// Duplicates do not dominate each other, so equal optimal points are all returned. Points with a
    /// non-finite coordinate are never returned and never dominate. The result is in ascending index order.
    public static func paretoFront(_ points: [ScatterPoint]) -> [Int] {
        let finite = points.indices.filter { points[$0].isFinite }
        return finite.filter { i in
            let p = points[i]
            return !finite.contains { j in
                let q = points[j]
                return q.x <= p.x && q.y <= p.y && (q.x < p.x || q.y < p.y)
            }
        }
    }

    /// The plot encoded as `format`, `width` x `height` drawing units (pixels for PNG).
    ///
    /// - Throws: `PlottingError.invalidSize` for sizes outside 200...16384; `PlottingError.cairo` if
    ///   cairo fails.
    public func render(format: PlotFormat, width: Double = 900, height: Double = 600) throws -> [UInt8] {
        try CairoCanvas.exclusively {
            try PlotSize.validate(width: width, height: height)
            let layout = try makeLayout(width: width, height: height)
            let canvas = try CairoCanvas(format: format, width: width, height: height, title: title)
            draw(layout, on: canvas)
            let bytes = try canvas.finish()
            return format == .svg ? annotateSVG(bytes, title: title, description: summary) : bytes
        }
    }

    /// Renders the plot at 900 x 600 in the format named by `path`'s extension (`.png`, `.svg`, `.pdf`)
    /// and writes it atomically: a crash never leaves a partial file.
    ///
    /// - Throws: `PlottingError.unknownFormat` for other extensions; `PlottingError.file` if the file
    ///   cannot be written (e.g. the folder does not exist); the errors of `render(format:width:height:)`.
    public func write(to path: String) throws {
        try writePlot(to: path) { try render(format: $0) }
    }

    /// The label rectangles as laid out for a `width` x `height` plot, one per drawn point, in point order.
    /// No two frames overlap and no frame covers any marker (unless the points are too crowded to allow it).
    public func labelLayout(width: Double, height: Double) -> [LabelBox] {
        CairoCanvas.exclusively {
            guard let layout = try? makeLayout(width: width, height: height) else { return [] }
            return layout.labels.sorted { $0.pointIndex < $1.pointIndex }
        }
    }

    /// The plot area, axis ranges, error bars and labels as laid out for a `width` x `height` plot; nil for
    /// an invalid size.
    public func geometry(width: Double, height: Double) -> TradeoffGeometry? {
        CairoCanvas.exclusively {
            guard let layout = try? makeLayout(width: width, height: height) else { return nil }
            return TradeoffGeometry(plot: layout.plot, xRange: layout.xAxis.lower...layout.xAxis.upper,
                                    yRange: layout.yAxis.lower...layout.yAxis.upper, errorBars: layout.bars,
                                    labels: layout.labels.sorted { $0.pointIndex < $1.pointIndex })
        }
    }

    /// A plain-text list of the points, for the SVG's description.
    private var summary: String {
        let entries = points.filter(\.isFinite).map { "\($0.label) (\($0.x), \($0.y))" }
        return "\(xLabel) against \(yLabel): " + entries.joined(separator: "; ")
    }
}

// MARK: - Layout

/// Sizes used by the trade-off plot.
private enum Metrics {
    static let markerRadius = 5.0
    /// Half the side of the square a marker occupies for label placement (radius + outline).
    static let markerHalfSide = 6.5
    static let labelPaddingX = 3.0
    static let labelPaddingY = 1.0
    /// Minimum clear space between a label and a marker or another label.
    static let clearance = 2.0
    static let paddingFractions = [0.06, 0.1, 0.15, 0.22, 0.3]
    /// Half the length of an error bar's end cap.
    static let errorBarCap = 3.0
    /// Label candidates (in `labelCandidates` order: the 8 next to the marker and the first ring of 16) among
    /// which one clear of error bars is preferred to the first one clear of labels and markers.
    static let barAvoidingCandidates = 24
}

private struct TradeoffLayout {
    var plot: PlotRect
    var xAxis: Axis
    var yAxis: Axis
    /// Marker centres of the drawn points, by point index.
    var centers: [Int: (x: Double, y: Double)]
    var bars: [ErrorBarBox]
    var labels: [LabelBox]
    var front: [Int]
    var titleCenterY: Double
    var subtitleCenterY: Double?
    var legendCenterY: Double
    var collisions: Int
}

extension TradeoffPlot {
    private func makeLayout(width: Double, height: Double) throws -> TradeoffLayout {
        let canvas = try CairoCanvas.measuring()
        let drawn = points.indices.filter { points[$0].isFinite }

        // Data bounds including error bars.
        var xs: [Double] = [], ys: [Double] = []
        for index in drawn {
            let point = points[index]
            let dx = point.xError.flatMap { $0.isFinite && $0 > 0 ? $0 : nil } ?? 0
            let dy = point.yError.flatMap { $0.isFinite && $0 > 0 ? $0 : nil } ?? 0
            xs += [point.x - dx, point.x + dx]
            ys += [point.y - dy, point.y + dy]
        }
        let xBounds = (xs.min() ?? 0, xs.max() ?? 1)
        let yBounds = (ys.min() ?? 0, ys.max() ?? 1)

        // Header: title, optional subtitle, legend row.
        let top = AxisMargins.outer
        let titleHeight = canvas.lineHeight(.title)
        let titleCenterY = top + titleHeight / 2
        var cursor = top + titleHeight
        var subtitleCenterY: Double?
        if subtitle != nil {
            let subtitleHeight = canvas.lineHeight(.subtitle)
            subtitleCenterY = cursor + 4 + subtitleHeight / 2
            cursor += 4 + subtitleHeight
        }
        let legendHeight = canvas.lineHeight(.legend)
        let legendCenterY = cursor + 8 + legendHeight / 2
        let plotTop = cursor + 8 + legendHeight + 8
        let plotBottom = height - AxisMargins.bottom(canvas: canvas)
        let plotHeight = max(40, plotBottom - plotTop)

        var best: TradeoffLayout?
        for fraction in Metrics.paddingFractions {
            let xRange = paddedRange(xBounds.0, xBounds.1, fraction: fraction)
            let yRange = paddedRange(yBounds.0, yBounds.1, fraction: fraction)
            let yAxis = Axis.linear(lower: yRange.lower, upper: yRange.upper,
                                    targetCount: max(2, Int(plotHeight / 55)))
            let left = AxisMargins.left(yTickLabels: yAxis.tickLabels, canvas: canvas)
            let plotWidth = max(40, width - left - 24)
            let xAxis = AxisMargins.fitXAxis(lower: xRange.lower, upper: xRange.upper, width: plotWidth,
                                             canvas: canvas)
            let plot = PlotRect(x: left, y: plotTop, width: plotWidth, height: plotHeight)
            var centers: [Int: (x: Double, y: Double)] = [:]
            for index in drawn {
                centers[index] = (plot.x + xAxis.fraction(points[index].x) * plot.width,
                                  plot.maxY - yAxis.fraction(points[index].y) * plot.height)
            }
            let bars = errorBars(centers: centers, plot: plot, xAxis: xAxis, yAxis: yAxis)
            let placement = placeLabels(centers: centers, bars: bars.map(\.frame), plot: plot, canvas: canvas)
            let layout = TradeoffLayout(
                plot: plot, xAxis: xAxis, yAxis: yAxis, centers: centers, bars: bars, labels: placement.labels,
                front: Self.paretoFront(points), titleCenterY: titleCenterY, subtitleCenterY: subtitleCenterY,
                legendCenterY: legendCenterY, collisions: placement.collisions)
            if best == nil || layout.collisions < best!.collisions { best = layout }
            if layout.collisions == 0 { break }
        }
        return best!
    }

    /// The error bars of the drawn points with a finite positive error, from cap to cap.
    private func errorBars(centers: [Int: (x: Double, y: Double)], plot: PlotRect, xAxis: Axis, yAxis: Axis)
        -> [ErrorBarBox] {
        let cap = Metrics.errorBarCap
        var bars: [ErrorBarBox] = []
        for (index, center) in centers.sorted(by: { $0.key < $1.key }) {
            let point = points[index]
            if let error = point.xError, error.isFinite, error > 0 {
                let left = plot.x + xAxis.fraction(point.x - error) * plot.width
                let right = plot.x + xAxis.fraction(point.x + error) * plot.width
                bars.append(ErrorBarBox(pointIndex: index, isHorizontal: true,
                                        frame: PlotRect(x: left, y: center.y - cap, width: right - left, height: 2 * cap)))
            }
            if let error = point.yError, error.isFinite, error > 0 {
                let top = plot.maxY - yAxis.fraction(point.y + error) * plot.height
                let bottom = plot.maxY - yAxis.fraction(point.y - error) * plot.height
                bars.append(ErrorBarBox(pointIndex: index, isHorizontal: false,
                                        frame: PlotRect(x: center.x - cap, y: top, width: 2 * cap, height: bottom - top)))
            }
        }
        return bars
    }

    /// Greedy label placement: the most crowded points first, each taking the first candidate position that
    /// stays inside the plot and clears all markers, all placed labels and all placed leader lines, and
    /// preferably (among the first `Metrics.barAvoidingCandidates`) all error bars.
    private func placeLabels(centers: [Int: (x: Double, y: Double)], bars: [PlotRect], plot: PlotRect,
                             canvas: CairoCanvas) -> (labels: [LabelBox], collisions: Int) {
        let half = Metrics.markerHalfSide
        let markers = centers.mapValues { PlotRect(x: $0.x - half, y: $0.y - half, width: 2 * half, height: 2 * half) }
        let lineHeight = canvas.lineHeight(.pointLabel)
        let crowding = centers.mapValues { center in
            centers.values.filter { hypot($0.x - center.x, $0.y - center.y) < 60 }.count
        }
        let order = centers.keys.sorted {
            crowding[$0]! != crowding[$1]! ? crowding[$0]! > crowding[$1]! : $0 < $1
        }
        var placed: [LabelBox] = []
        var leaders: [((x: Double, y: Double), (x: Double, y: Double))] = []
        var collisions = 0
        let bounds = plot.insetBy(2)

        for index in order {
            let center = centers[index]!
            let label = points[index].label
            let size = (width: canvas.textWidth(label, style: .pointLabel) + 2 * Metrics.labelPaddingX,
                        height: lineHeight + 2 * Metrics.labelPaddingY)
            var chosen: (frame: PlotRect, leader: Bool)?
            var fallback: (frame: PlotRect, leader: Bool, penalty: Double)?
            // The first candidate clear of labels and markers but crossing an error bar.
            var clearButOnBar: (frame: PlotRect, leader: Bool)?
            for (rank, candidate) in labelCandidates(center: center, width: size.width, height: size.height).enumerated() {
                if rank >= Metrics.barAvoidingCandidates, let clear = clearButOnBar {
                    chosen = clear
                    break
                }
                guard bounds.contains(candidate.frame) else { continue }
                let grown = candidate.frame.outsetBy(Metrics.clearance)
                let end = nearestPoint(in: candidate.frame, to: center)
                var penalty = 0.0
                for box in placed { penalty += grown.overlapArea(with: box.frame) }
                for marker in markers.values { penalty += 3 * grown.overlapArea(with: marker) }
                for leader in leaders where grown.intersectsSegment(from: leader.0, to: leader.1) { penalty += 50 }
                if candidate.leader {
                    for box in placed where box.frame.intersectsSegment(from: center, to: end) { penalty += 50 }
                    for (other, marker) in markers where other != index
                        && marker.intersectsSegment(from: center, to: end) { penalty += 50 }
                }
                if penalty == 0 {
                    if rank >= Metrics.barAvoidingCandidates || !bars.contains(where: { grown.intersects($0) }) {
                        chosen = (candidate.frame, candidate.leader)
                        break
                    }
                    if clearButOnBar == nil { clearButOnBar = (candidate.frame, candidate.leader) }
                    continue
                }
                if fallback == nil || penalty < fallback!.penalty {
                    fallback = (candidate.frame, candidate.leader, penalty)
                }
            }
            if chosen == nil, let clear = clearButOnBar { chosen = clear }
            if chosen == nil {
                collisions += 1
                chosen = fallback.map { ($0.frame, $0.leader) }
                    ?? (PlotRect(x: min(max(center.x + half + 3, bounds.x), bounds.maxX - size.width),
                                 y: min(max(center.y - size.height / 2, bounds.y), bounds.maxY - size.height),
                                 width: size.width, height: size.height), false)
            }
            let box = LabelBox(pointIndex: index, label: label, frame: chosen!.frame, marker: markers[index]!,
                               hasLeaderLine: chosen!.leader)
            if box.hasLeaderLine { leaders.append((center, nearestPoint(in: box.frame, to: center))) }
            placed.append(box)
        }
        return (placed, collisions)
    }

    /// Candidate label frames around `center`, best first: eight positions next to the marker (the four
    /// diagonal ones with a short leader line), then rings further out (16 directions each) with leader lines.
    private func labelCandidates(center: (x: Double, y: Double), width: Double, height: Double)
        -> [(frame: PlotRect, leader: Bool)] {
        var result: [(frame: PlotRect, leader: Bool)] = []
        let near = Metrics.markerHalfSide + Metrics.clearance + 1
        // Right, left, above, below, then the diagonals.
        let directions: [(Double, Double)] = [(1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (1, 1), (-1, -1), (-1, 1)]
        for (dx, dy) in directions {
            let x = dx > 0 ? center.x + near : dx < 0 ? center.x - near - width : center.x - width / 2
            let y = dy > 0 ? center.y + near : dy < 0 ? center.y - near - height : center.y - height / 2
            // Diagonal labels get a short leader so that it is clear which marker they belong to.
            result.append((PlotRect(x: x, y: y, width: width, height: height), dx != 0 && dy != 0))
        }
        let angles = [0.0, 180, -90, 90, -45, 45, -135, 135, -22.5, 22.5, -157.5, 157.5, -67.5, 67.5, -112.5, 112.5]
        for distance in [22.0, 34, 48, 64, 82, 102, 125, 150, 180] {
            for degrees in angles {
                let angle = degrees * Double.pi / 180
                let (c, s) = (cos(angle), sin(angle))
                let anchor = (x: center.x + distance * c, y: center.y + distance * s)
                let fx = min(1, max(-1, 1.5 * c)), fy = min(1, max(-1, 1.5 * s))
                result.append((PlotRect(x: anchor.x - width * (1 - fx) / 2, y: anchor.y - height * (1 - fy) / 2,
                                        width: width, height: height), true))
            }
        }
        return result
    }
}

/// The point of `rect` closest to `point`.
private func nearestPoint(in rect: PlotRect, to point: (x: Double, y: Double)) -> (x: Double, y: Double) {
    (min(max(point.x, rect.x), rect.maxX), min(max(point.y, rect.y), rect.maxY))
}

// MARK: - Drawing

extension TradeoffPlot {
    private static let frontColor = Color(hex: 0xD55E00)
    private static let otherColor = Color(hex: 0x0072B2)

    private func draw(_ layout: TradeoffLayout, on canvas: CairoCanvas) {
        let plot = layout.plot
        canvas.fillBackground(.white)
        canvas.drawText(title, x: plot.x, centerY: layout.titleCenterY, alignment: .left, style: .title)
        if let subtitle, let y = layout.subtitleCenterY {
            canvas.drawText(subtitle, x: plot.x, centerY: y, alignment: .left, style: .subtitle,
                            color: .secondaryText)
        }
        drawAxes(on: canvas, plot: plot, x: layout.xAxis, y: layout.yAxis, xLabel: xLabel, yLabel: yLabel)
        if layout.centers.isEmpty {
            let note = points.isEmpty ? "No points to plot" : "No points with finite values to plot"
            canvas.drawText(note, x: plot.midX, centerY: plot.midY, alignment: .center, style: .note,
                            color: .secondaryText)
            return
        }
        drawLegend(layout, on: canvas)
        canvas.clip(to: plot)
        let front = Set(layout.front)

        // Pareto front: a staircase through the front points sorted by x.
        let steps = layout.front.compactMap { layout.centers[$0] }
            .sorted { $0.x < $1.x || ($0.x == $1.x && $0.y > $1.y) }
        if let first = steps.first, let last = steps.last {
            canvas.setColor(Self.frontColor, alpha: 0.55)
            canvas.setLine(width: 1.6, dash: [6, 3])
            canvas.move(to: first)
            for (previous, next) in zip(steps, steps.dropFirst()) {
                canvas.addLine(to: (next.x, previous.y))
                canvas.addLine(to: next)
            }
            canvas.stroke()
            // Fainter continuation to the frame: everything above and to the right is dominated.
            canvas.setColor(Self.frontColor, alpha: 0.25)
            canvas.line(from: (first.x, plot.y), to: first)
            canvas.line(from: last, to: (plot.maxX, last.y))
            canvas.setLine(width: 1)
        }

        // Error bars: a thin line with a cap at each end.
        canvas.setLine(width: 1.2)
        for bar in layout.bars {
            canvas.setColor(front.contains(bar.pointIndex) ? Self.frontColor : Self.otherColor, alpha: 0.7)
            let f = bar.frame
            if bar.isHorizontal {
                canvas.line(from: (f.x, f.midY), to: (f.maxX, f.midY))
                canvas.line(from: (f.x, f.y), to: (f.x, f.maxY))
                canvas.line(from: (f.maxX, f.y), to: (f.maxX, f.maxY))
            } else {
                canvas.line(from: (f.midX, f.y), to: (f.midX, f.maxY))
                canvas.line(from: (f.x, f.y), to: (f.maxX, f.y))
                canvas.line(from: (f.x, f.maxY), to: (f.maxX, f.maxY))
            }
        }

        // Leader lines, then markers, then labels on a translucent background.
        canvas.setColor(.secondaryText, alpha: 0.8)
        canvas.setLine(width: 0.8)
        for box in layout.labels where box.hasLeaderLine {
            let center = layout.centers[box.pointIndex]!
            let end = nearestPoint(in: box.frame, to: center)
            let length = hypot(end.x - center.x, end.y - center.y)
            guard length > Metrics.markerRadius + 2 else { continue }
            let start = (x: center.x + (end.x - center.x) * Metrics.markerRadius / length,
                         y: center.y + (end.y - center.y) * Metrics.markerRadius / length)
            canvas.line(from: start, to: end)
        }
        for (index, center) in layout.centers.sorted(by: { $0.key < $1.key }) {
            drawMarker(at: center, onFront: front.contains(index), canvas: canvas)
        }
        for box in layout.labels {
            canvas.setColor(.white, alpha: 0.85)
            canvas.roundedRectangle(box.frame, radius: 2)
            canvas.fill()
            canvas.drawText(box.label, x: box.frame.midX, centerY: box.frame.midY, alignment: .center,
                            style: .pointLabel)
        }
        canvas.resetClip()
    }

    private func drawMarker(at center: (x: Double, y: Double), onFront: Bool, canvas: CairoCanvas) {
        canvas.circle(x: center.x, y: center.y, radius: Metrics.markerRadius)
        if onFront {
            canvas.setColor(Self.frontColor)
            canvas.fillPreserve()
            canvas.setColor(.white)
            canvas.setLine(width: 1)
        } else {
            canvas.setColor(.white)
            canvas.fillPreserve()
            canvas.setColor(Self.otherColor)
            canvas.setLine(width: 1.8)
        }
        canvas.stroke()
    }

    /// Legend above the plot's top-right corner: marker styles and the front line.
    private func drawLegend(_ layout: TradeoffLayout, on canvas: CairoCanvas) {
        let y = layout.legendCenterY
        let entries = ["Pareto-optimal", "dominated", "Pareto front"]
        let widths = entries.map { canvas.textWidth($0, style: .legend) }
        let symbol = 22.0, gap = 6.0, spacing = 18.0
        let total = widths.reduce(0, +) + Double(entries.count) * (symbol + gap) + Double(entries.count - 1) * spacing
        var x = layout.plot.maxX - total
        for (index, entry) in entries.enumerated() {
            let middle = (x: x + symbol / 2, y: y)
            switch index {
            case 0: drawMarker(at: middle, onFront: true, canvas: canvas)
            case 1: drawMarker(at: middle, onFront: false, canvas: canvas)
            default:
                canvas.setColor(Self.frontColor, alpha: 0.55)
                canvas.setLine(width: 1.6, dash: [6, 3])
                canvas.move(to: (x, y + 5))
                canvas.addLine(to: (x + symbol / 2, y + 5))
                canvas.addLine(to: (x + symbol / 2, y - 5))
                canvas.addLine(to: (x + symbol, y - 5))
                canvas.stroke()
                canvas.setLine(width: 1)
            }
            canvas.drawText(entry, x: x + symbol + gap, centerY: y, alignment: .left, style: .legend,
                            color: .secondaryText)
            x += symbol + gap + widths[index] + spacing
        }
    }
}
