import Foundation

/// Line plot of curves such as the training loss per epoch: one line per series, legend on the right.
///
/// Series are coloured from the Okabe-Ito palette; beyond eight series the colours repeat with dashed,
/// dotted and dash-dotted lines. Non-finite values (and non-positive ones on a logarithmic axis) are
/// skipped, breaking the line; series without any drawable value are listed in the legend as "(no data)".
public struct LinePlot {
    /// One curve.
    public struct Series: Equatable {
        /// The legend text.
        public var label: String
        /// Horizontal coordinates (e.g. epochs); paired with `y` up to the shorter of the two.
        public var x: [Double]
        /// Vertical coordinates (e.g. loss values).
        public var y: [Double]

        /// Creates a series from paired coordinates.
        public init(label: String, x: [Double], y: [Double]) {
            self.label = label
            self.x = x
            self.y = y
        }

        /// Creates a series whose `x` values are 1, 2, 3, ... (e.g. epochs counted from 1).
        public init(label: String, y: [Double]) {
            self.init(label: label, x: (0..<y.count).map { Double($0 + 1) }, y: y)
        }
    }

    /// The title above the plot.
    public var title: String
    /// Horizontal axis label, with units.
    public var xLabel: String
    /// Vertical axis label, with units.
    public var yLabel: String
    /// The curves, drawn in order (later ones on top).
    public var series: [Series]
    /// Whether the vertical axis is logarithmic (base 10).
    public var logScaleY: Bool

    /// Creates a line plot.
    public init(title: String, xLabel: String, yLabel: String, series: [Series], logScaleY: Bool = false) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.logScaleY = logScaleY
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
            guard format == .svg else { return bytes }
            return annotateSVG(bytes, title: title,
                               description: "\(yLabel) against \(xLabel); series: "
                                   + series.map(\.label).joined(separator: ", "))
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
}

// MARK: - Layout and drawing

struct LineLayout {
    var plot: PlotRect
    var xAxis: Axis
    var yAxis: Axis
    var titleCenterY: Double
    var legend: PlotRect
    var legendRowHeight: Double
    var hasData: Bool
}

extension LinePlot {
    private static let dashPatterns: [[Double]] = [[], [7, 4], [1.5, 3], [8, 3, 1.5, 3]]
    private static let sampleLength = 28.0

    /// Whether `(x, y)` can be drawn.
    private func isDrawable(_ x: Double, _ y: Double) -> Bool {
        x.isFinite && y.isFinite && (!logScaleY || y > 0)
    }

    private func drawablePairs(_ series: Series) -> [(x: Double, y: Double)] {
        zip(series.x, series.y).filter { isDrawable($0.0, $0.1) }.map { ($0.0, $0.1) }
    }

    private func legendText(_ series: Series) -> String {
        drawablePairs(series).isEmpty ? "\(series.label) (no data)" : series.label
    }

    func makeLayout(width: Double, height: Double) throws -> LineLayout {
        let canvas = try CairoCanvas.measuring()
        let pairs = series.flatMap(drawablePairs)
        let xs = pairs.map(\.x), ys = pairs.map(\.y)
        let hasData = !pairs.isEmpty
        let integerX = hasData && xs.allSatisfy { $0 == $0.rounded() }

        let titleHeight = canvas.lineHeight(.title)
        let titleCenterY = AxisMargins.outer + titleHeight / 2
        let plotTop = AxisMargins.outer + titleHeight + 14
        let plotBottom = height - AxisMargins.bottom(canvas: canvas)
        let plotHeight = max(40, plotBottom - plotTop)

        let yRange: (lower: Double, upper: Double)
        let yAxis: Axis
        let yTarget = max(2, Int(plotHeight / 55))
        if logScaleY {
            yRange = hasData ? paddedRange(ys.min()!, ys.max()!, fraction: 0.05, logarithmic: true) : (1, 10)
            yAxis = Axis.logarithmic(lower: yRange.lower, upper: yRange.upper, targetCount: yTarget)
        } else {
            yRange = hasData ? paddedRange(ys.min()!, ys.max()!, fraction: 0.05) : (0, 1)
            yAxis = Axis.linear(lower: yRange.lower, upper: yRange.upper, targetCount: yTarget)
        }

        // Legend to the right of the plot area.
        let rowHeight = canvas.lineHeight(.legend) + 6
        let widest = series.map { canvas.textWidth(legendText($0), style: .legend) }.max() ?? 0
        let legendWidth = series.isEmpty ? 0 : 10 + Self.sampleLength + 8 + widest + 10
        let legendHeight = series.isEmpty ? 0 : Double(series.count) * rowHeight + 10
        let left = AxisMargins.left(yTickLabels: yAxis.tickLabels, canvas: canvas)
        let right = (series.isEmpty ? 0 : legendWidth + 16) + 20
        let plotWidth = max(40, width - left - right)
        let plot = PlotRect(x: left, y: plotTop, width: plotWidth, height: plotHeight)
        let legend = PlotRect(x: plot.maxX + 16, y: plot.y, width: legendWidth, height: legendHeight)

        var xRange: (lower: Double, upper: Double) = (0, 1)
        if hasData {
            let low = xs.min()!, high = xs.max()!
            xRange = high > low ? (low - (high - low) * 0.02, high + (high - low) * 0.02)
                                : paddedRange(low, high, fraction: 0.05)
        }
        let xAxis = AxisMargins.fitXAxis(lower: xRange.lower, upper: xRange.upper, width: plotWidth,
                                         canvas: canvas, minimumStep: integerX ? 1 : 0)
        return LineLayout(plot: plot, xAxis: xAxis, yAxis: yAxis, titleCenterY: titleCenterY, legend: legend,
                          legendRowHeight: rowHeight, hasData: hasData)
    }

    private func style(of index: Int) -> (color: Color, dash: [Double]) {
        let palette = Color.okabeIto
        return (palette[index % palette.count], Self.dashPatterns[(index / palette.count) % Self.dashPatterns.count])
    }

    func draw(_ layout: LineLayout, on canvas: CairoCanvas) {
        let plot = layout.plot
        canvas.fillBackground(.white)
        canvas.drawText(title, x: plot.x, centerY: layout.titleCenterY, alignment: .left, style: .title)
        drawAxes(on: canvas, plot: plot, x: layout.xAxis, y: layout.yAxis, xLabel: xLabel, yLabel: yLabel)
        guard layout.hasData else {
            canvas.drawText(series.isEmpty ? "No series to plot" : "No finite values to plot",
                            x: plot.midX, centerY: plot.midY, alignment: .center, style: .note,
                            color: .secondaryText)
            drawLegend(layout, on: canvas)
            return
        }

        canvas.clip(to: plot)
        for (index, curve) in series.enumerated() {
            let (color, dash) = style(of: index)
            canvas.setColor(color)
            canvas.setLine(width: 1.8, dash: dash)
            var penDown = false
            var drawable = 0
            for (x, y) in zip(curve.x, curve.y) {
                guard isDrawable(x, y) else {
                    penDown = false
                    continue
                }
                let point = (x: plot.x + layout.xAxis.fraction(x) * plot.width,
                             y: plot.maxY - layout.yAxis.fraction(y) * plot.height)
                if penDown { canvas.addLine(to: point) } else { canvas.move(to: point) }
                penDown = true
                drawable += 1
            }
            canvas.stroke()
            // Dots mark the values of short series and values isolated between gaps.
            let pairs = Array(zip(curve.x, curve.y))
            for (offset, pair) in pairs.enumerated() where isDrawable(pair.0, pair.1) {
                let isolated = (offset == 0 || !isDrawable(pairs[offset - 1].0, pairs[offset - 1].1))
                    && (offset == pairs.count - 1 || !isDrawable(pairs[offset + 1].0, pairs[offset + 1].1))
                guard drawable <= 25 || isolated else { continue }
                canvas.circle(x: plot.x + layout.xAxis.fraction(pair.0) * plot.width,
                              y: plot.maxY - layout.yAxis.fraction(pair.1) * plot.height, radius: 2.6)
                canvas.fill()
            }
        }
        canvas.resetClip()
        canvas.setLine(width: 1)
        drawLegend(layout, on: canvas)
    }

    private func drawLegend(_ layout: LineLayout, on canvas: CairoCanvas) {
        guard !series.isEmpty else { return }
        let box = layout.legend
        canvas.setColor(.white)
        canvas.roundedRectangle(box, radius: 3)
        canvas.fillPreserve()
        canvas.setColor(.frame)
        canvas.setLine(width: 1)
        canvas.stroke()
        for (index, curve) in series.enumerated() {
            let centerY = box.y + 5 + (Double(index) + 0.5) * layout.legendRowHeight
            let (color, dash) = style(of: index)
            let hasData = !drawablePairs(curve).isEmpty
            canvas.setColor(color, alpha: hasData ? 1 : 0.35)
            canvas.setLine(width: 2.2, dash: dash)
            canvas.line(from: (box.x + 10, centerY), to: (box.x + 10 + Self.sampleLength, centerY))
            canvas.setLine(width: 1)
            canvas.drawText(legendText(curve), x: box.x + 10 + Self.sampleLength + 8, centerY: centerY,
                            alignment: .left, style: .legend, color: hasData ? .text : .secondaryText)
        }
    }
}
