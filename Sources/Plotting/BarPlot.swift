import Foundation

/// Grouped bar chart: one group of bars per category (e.g. per latent dimension), one bar per series in
/// each group (e.g. per run), with a legend on the right.
///
/// Bars grow from zero, so negative values point down. Non-finite values and missing values (a series
/// shorter than `categories`) leave a gap.
public struct BarPlot {
    /// One bar per category, all in the same colour.
    public struct Series: Equatable {
        /// The legend text.
        public var label: String
        /// One value per category, in category order.
        public var values: [Double]

        /// Creates a series.
        public init(label: String, values: [Double]) {
            self.label = label
            self.values = values
        }
    }

    /// The title above the plot.
    public var title: String
    /// Horizontal axis label (what the categories are).
    public var xLabel: String
    /// Vertical axis label, with units.
    public var yLabel: String
    /// Names of the groups along the horizontal axis.
    public var categories: [String]
    /// The bars of each group, left to right.
    public var series: [Series]

    /// Creates a grouped bar chart.
    public init(title: String, xLabel: String, yLabel: String, categories: [String], series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.categories = categories
        self.series = series
    }

    /// The plot encoded as `format`, `width` x `height` drawing units (pixels for PNG).
    ///
    /// - Throws: `PlottingError.invalidSize` for sizes outside 200...16384; `PlottingError.cairo` if
    ///   cairo fails.
    public func render(format: PlotFormat, width: Double = 900, height: Double = 600) throws -> [UInt8] {
        try CairoCanvas.exclusively {
            try PlotSize.validate(width: width, height: height)
            let measure = try CairoCanvas.measuring()
            let canvas = try CairoCanvas(format: format, width: width, height: height, title: title)
            draw(on: canvas, measure: measure)
            let bytes = try canvas.finish()
            guard format == .svg else { return bytes }
            return annotateSVG(bytes, title: title,
                               description: "\(yLabel) per \(xLabel); series: "
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

    private func draw(on canvas: CairoCanvas, measure: CairoCanvas) {
        let width = canvas.width, height = canvas.height
        let values = series.flatMap { $0.values.prefix(categories.count) }.filter(\.isFinite)
        let hasData = !values.isEmpty && !categories.isEmpty

        let titleHeight = measure.lineHeight(.title)
        let plotTop = AxisMargins.outer + titleHeight + 14
        let plotHeight = max(40, height - AxisMargins.bottom(canvas: measure) - plotTop)
        let low = min(0, values.min() ?? 0), high = max(0, values.max() ?? 1)
        let range = high > low ? (low == 0 ? (0, high * 1.05) : paddedRange(low, high, fraction: 0.05))
                               : (0.0, 1.0)
        let yAxis = Axis.linear(lower: range.0, upper: range.1, targetCount: max(2, Int(plotHeight / 55)))

        let rowHeight = measure.lineHeight(.legend) + 6
        let widest = series.map { measure.textWidth($0.label, style: .legend) }.max() ?? 0
        let legend = series.isEmpty ? 0 : 10 + 14 + 8 + widest + 10
        let left = AxisMargins.left(yTickLabels: yAxis.tickLabels, canvas: measure)
        let plotWidth = max(40, width - left - (series.isEmpty ? 0 : legend + 16) - 20)
        let plot = PlotRect(x: left, y: plotTop, width: plotWidth, height: plotHeight)

        // Category labels as x ticks at the group centres, thinned out when they would collide.
        let groupWidth = plot.width / Double(max(1, categories.count))
        let widestCategory = categories.map { measure.textWidth($0, style: .tickLabel) }.max() ?? 0
        let every = max(1, Int(((widestCategory + 10) / groupWidth).rounded(.up)))
        var xAxis = Axis(lower: 0, upper: Double(max(1, categories.count)))
        for (index, name) in categories.enumerated() where index % every == 0 {
            xAxis.ticks.append(Double(index) + 0.5)
            xAxis.tickLabels.append(name)
        }

        canvas.fillBackground(.white)
        canvas.drawText(title, x: plot.x, centerY: AxisMargins.outer + titleHeight / 2, alignment: .left,
                        style: .title)
        drawAxes(on: canvas, plot: plot, x: xAxis, y: yAxis, xLabel: xLabel, yLabel: yLabel,
                 verticalGrid: false)
        guard hasData else {
            canvas.drawText("No values to plot", x: plot.midX, centerY: plot.midY, alignment: .center,
                            style: .note, color: .secondaryText)
            drawLegend(at: PlotRect(x: plot.maxX + 16, y: plot.y, width: legend, height: 0), rowHeight: rowHeight,
                       on: canvas)
            return
        }
        let zeroY = plot.maxY - yAxis.fraction(0) * plot.height
        let inner = groupWidth * 0.8
        let barWidth = inner / Double(max(1, series.count))
        canvas.clip(to: plot)
        for (seriesIndex, bars) in series.enumerated() {
            canvas.setColor(Color.okabeIto[seriesIndex % Color.okabeIto.count])
            for (category, value) in bars.values.prefix(categories.count).enumerated() where value.isFinite {
                let x = plot.x + Double(category) * groupWidth + (groupWidth - inner) / 2
                    + Double(seriesIndex) * barWidth
                let y = plot.maxY - yAxis.fraction(value) * plot.height
                canvas.rectangle(PlotRect(x: x, y: min(y, zeroY), width: max(0.5, barWidth * 0.9),
                                          height: abs(zeroY - y)))
                canvas.fill()
            }
        }
        canvas.setColor(.axis)
        canvas.setLine(width: 1)
        canvas.line(from: (plot.x, zeroY), to: (plot.maxX, zeroY))
        canvas.resetClip()
        drawLegend(at: PlotRect(x: plot.maxX + 16, y: plot.y, width: legend, height: 0), rowHeight: rowHeight,
                   on: canvas)
    }

    private func drawLegend(at origin: PlotRect, rowHeight: Double, on canvas: CairoCanvas) {
        guard !series.isEmpty else { return }
        let box = PlotRect(x: origin.x, y: origin.y, width: origin.width,
                           height: Double(series.count) * rowHeight + 10)
        canvas.setColor(.white)
        canvas.roundedRectangle(box, radius: 3)
        canvas.fillPreserve()
        canvas.setColor(.frame)
        canvas.setLine(width: 1)
        canvas.stroke()
        for (index, bars) in series.enumerated() {
            let centerY = box.y + 5 + (Double(index) + 0.5) * rowHeight
            canvas.setColor(Color.okabeIto[index % Color.okabeIto.count])
            canvas.rectangle(PlotRect(x: box.x + 10, y: centerY - 6, width: 14, height: 12))
            canvas.fill()
            canvas.drawText(bars.label, x: box.x + 32, centerY: centerY, alignment: .left, style: .legend)
        }
    }
}
