import CCairo

/// Line plots stacked top to bottom in one picture, each with its own title, axes and legend: curves whose values are
/// in different units (nats, squared errors) each get a vertical axis of their own instead of sharing one.
public struct LinePanels {
    /// The panels, top to bottom.
    public var panels: [LinePlot]

    public init(panels: [LinePlot]) { self.panels = panels }

    /// The panels encoded as `format`, `width` wide and `panelHeight` per panel (pixels for PNG); no panel renders
    /// as one empty plot saying so.
    ///
    /// - Throws: `PlottingError.invalidSize` for a width or panel height outside 200...16384 (or a total height above
    ///   it); `PlottingError.cairo` if cairo fails.
    public func render(format: PlotFormat, width: Double = 900, panelHeight: Double = 420) throws -> [UInt8] {
        let shown = panels.isEmpty ? [LinePlot(title: "No series to plot", xLabel: "", yLabel: "", series: [])] : panels
        let height = panelHeight * Double(shown.count)
        return try CairoCanvas.exclusively {
            try PlotSize.validate(width: width, height: panelHeight)
            try PlotSize.validate(width: width, height: height)
            let layouts = try shown.map { try $0.makeLayout(width: width, height: panelHeight) }
            let title = shown.map(\.title).joined(separator: "; ")
            let canvas = try CairoCanvas(format: format, width: width, height: height, title: title)
            for (index, (panel, layout)) in zip(shown, layouts).enumerated() {
                cairo_save(canvas.context)
                cairo_translate(canvas.context, 0, Double(index) * panelHeight)
                canvas.clip(to: PlotRect(x: 0, y: 0, width: width, height: panelHeight))
                panel.draw(layout, on: canvas)
                cairo_restore(canvas.context)
            }
            let bytes = try canvas.finish()
            guard format == .svg else { return bytes }
            return annotateSVG(bytes, title: title, description: shown.map { panel in
                "\(panel.title): \(panel.yLabel) against \(panel.xLabel); series: " + panel.series.map(\.label).joined(separator: ", ")
            }.joined(separator: ". "))
        }
    }
}
