import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Imaging
import Plotting
import Testing
import TestSupport

// MARK: - Fixtures

/// Ten study-like runs: reconstruction MSE against FID, several of them very close together.
private let studyPoints: [ScatterPoint] = [
    ScatterPoint(label: "vae_std_z20", x: 0.0152, y: 21.3, xError: 0.0004, yError: 0.9),
    ScatterPoint(label: "vae_std_z20_res", x: 0.0148, y: 20.1, xError: 0.0003, yError: 1.1),
    ScatterPoint(label: "vae_std_z40", x: 0.0139, y: 24.8, xError: 0.0005, yError: 1.4),
    ScatterPoint(label: "vae_conv", x: 0.0098, y: 9.7, xError: 0.0002, yError: 0.6),
    ScatterPoint(label: "beta_vae_4", x: 0.0291, y: 52.4, xError: 0.0009, yError: 3.1),
    ScatterPoint(label: "beta_vae_2", x: 0.0224, y: 38.0, xError: 0.0007, yError: 2.2),
    ScatterPoint(label: "beta_vae_0.5", x: 0.0121, y: 27.5),
    ScatterPoint(label: "wae", x: 0.0133, y: 14.2, xError: 0.0004, yError: 0.8),
    ScatterPoint(label: "gm_vae", x: 0.0155, y: 19.6, xError: 0.0005, yError: 1.0),
    ScatterPoint(label: "vq_vae", x: 0.0091, y: 31.9, xError: 0.0002, yError: 1.7),
]

/// The same runs squeezed into a tiny region, apart from two outliers that stretch the axes.
private let crowdedPoints: [ScatterPoint] = zip(studyPoints.map(\.label), [
    (0.0150, 20.0), (0.0151, 20.4), (0.0149, 20.9), (0.0153, 19.6), (0.0290, 55.0),
    (0.0152, 21.2), (0.0147, 19.9), (0.0154, 20.6), (0.0148, 21.0), (0.0090, 6.0),
]).map { ScatterPoint(label: $0, x: $1.0, y: $1.1) }

private func studyPlot(points: [ScatterPoint] = studyPoints) -> TradeoffPlot {
    TradeoffPlot(title: "Reconstruction vs. sample quality (FID with the MNIST LeNet classifier)",
                 subtitle: "10 runs, mean ± std over 3 seeds; lower is better on both axes",
                 xLabel: "Reconstruction MSE (per pixel, [0, 1] scale)", yLabel: "FID (LeNet features)",
                 points: points)
}

/// Ten training curves with the gaps and oddities real logs have.
private func trainingCurves(count: Int = 10) -> LinePlot {
    let names = ["vae_std_z20", "vae_std_z20_res", "vae_std_z40", "vae_conv", "beta_vae_4", "beta_vae_2",
                 "beta_vae_0.5", "wae", "gm_vae", "vq_vae", "extra_a", "extra_b"]
    let series = (0..<count).map { index -> LinePlot.Series in
        let start = 190.0 + 12 * Double(index)
        let floor = 95.0 + 4.5 * Double(index)
        var y = (0..<50).map { epoch in floor + (start - floor) * exp(-Double(epoch) / (4 + Double(index))) }
        if index == 3 { y[20] = .nan }
        return LinePlot.Series(label: names[index % names.count], y: y)
    }
    return LinePlot(title: "Training loss (negative ELBO) per epoch", xLabel: "Epoch",
                    yLabel: "Loss (nats per image)", series: series)
}

/// KL per latent dimension for three runs, with a few collapsed dimensions and a missing value.
private func klBars() -> BarPlot {
    let runs = ["vae_std_z20", "beta_vae_4", "gm_vae"]
    let series = runs.enumerated().map { run, name in
        BarPlot.Series(label: name, values: (0..<20).map { dimension in
            dimension % (run + 3) == 2 ? 0.02 : 3.5 / Double(run + 1) * exp(-Double(dimension) / 12)
        } + (run == 2 ? [] : [.nan]))
    }
    return BarPlot(title: "KL divergence per latent dimension", xLabel: "Latent dimension",
                   yLabel: "KL (nats)", categories: (1...20).map { "z\($0)" }, series: series)
}

/// Whether `bytes` parse as XML; collects the text of `<title>` and `<desc>` elements.
private final class SVGCheck: NSObject, XMLParserDelegate {
    var text = ""
    var rootElement: String?
    private var inTextElement = false

    func parse(_ bytes: [UInt8]) -> Bool {
        let parser = XMLParser(data: Data(bytes))
        parser.delegate = self
        return parser.parse()
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        if rootElement == nil { rootElement = elementName }
        inTextElement = elementName == "title" || elementName == "desc"
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?) {
        inTextElement = false
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inTextElement { text += string }
    }
}

private func isPDF(_ bytes: [UInt8]) -> Bool {
    guard bytes.starts(with: Array("%PDF-".utf8)) else { return false }
    let trailer = String(decoding: bytes.suffix(32), as: UTF8.self)
    return trailer.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("%%EOF")
}

// MARK: - Pareto front

@Test func paretoFrontOfHandMadePoints() {
    func point(_ x: Double, _ y: Double) -> ScatterPoint { ScatterPoint(label: "\(x),\(y)", x: x, y: y) }
    // 0, 1, 3 form the front; 2 is dominated by 1; 4 ties 3 in y but has larger x.
    let points = [point(1, 10), point(2, 5), point(3, 6), point(4, 1), point(5, 1)]
    #expect(TradeoffPlot.paretoFront(points) == [0, 1, 3])
    // Exact duplicates on the front do not dominate each other.
    #expect(TradeoffPlot.paretoFront([point(1, 1), point(1, 1), point(2, 2)]) == [0, 1])
    // Equal x: only the lower y survives; equal y: only the lower x.
    #expect(TradeoffPlot.paretoFront([point(1, 3), point(1, 2), point(2, 1), point(3, 1)]) == [1, 2])
    // Non-finite points are neither on the front nor dominate others.
    #expect(TradeoffPlot.paretoFront([point(.nan, 0), point(2, 2), point(-.infinity, 1), point(3, 1)]) == [1, 3])
    #expect(TradeoffPlot.paretoFront([]) == [])
    #expect(TradeoffPlot.paretoFront([point(7, 7)]) == [0])
}

@Test func studyParetoFront() {
    let names = TradeoffPlot.paretoFront(studyPoints).map { studyPoints[$0].label }
    #expect(names == ["vae_conv", "vq_vae"])
}

// MARK: - Formats

@Test(arguments: PlotFormat.allCases)
func tradeoffPlotRendersEveryFormat(format: PlotFormat) throws {
    let bytes = try studyPlot().render(format: format, width: 900, height: 600)
    #expect(!bytes.isEmpty)
    switch format {
    case .png:
        let image = try PNGFile.decode(bytes, source: "tradeoff.png")
        #expect(image.width == 900 && image.height == 600)
        // Not blank: the markers' vermillion and blue must be present.
        #expect(Set(image.pixels).count > 50)
    case .svg:
        let check = SVGCheck()
        #expect(check.parse(bytes))
        #expect(check.rootElement == "svg")
        for point in studyPoints { #expect(check.text.contains(point.label)) }
        #expect(check.text.contains("FID with the MNIST LeNet classifier"))
    case .pdf:
        #expect(isPDF(bytes))
    }
}

@Test(arguments: PlotFormat.allCases)
func linePlotRendersEveryFormat(format: PlotFormat) throws {
    let bytes = try trainingCurves().render(format: format, width: 800, height: 500)
    switch format {
    case .png:
        let image = try PNGFile.decode(bytes, source: "curves.png")
        #expect(image.width == 800 && image.height == 500)
    case .svg:
        let check = SVGCheck()
        #expect(check.parse(bytes))
        #expect(check.text.contains("vq_vae"))
    case .pdf:
        #expect(isPDF(bytes))
    }
}

@Test func formatFromFileExtension() {
    #expect(PlotFormat(path: "out/plot.png") == .png)
    #expect(PlotFormat(path: "plot.SVG") == .svg)
    #expect(PlotFormat(path: "/a.b/plot.pdf") == .pdf)
    #expect(PlotFormat(path: "/a.png/plot") == nil)
    #expect(PlotFormat(path: "plot.jpeg") == nil)
    #expect(PlotFormat(path: ".png") == nil)
}

// MARK: - Label layout

@Test(arguments: [(900.0, 600.0), (700.0, 450.0), (1200.0, 800.0)])
func studyLabelsOverlapNothing(width: Double, height: Double) {
    for points in [studyPoints, crowdedPoints] {
        let boxes = studyPlot(points: points).labelLayout(width: width, height: height)
        #expect(boxes.count == points.count)
        #expect(boxes.map(\.label) == points.map(\.label))
        expectNoOverlaps(boxes)
    }
}

private func expectNoOverlaps(_ boxes: [LabelBox], sourceLocation: SourceLocation = #_sourceLocation) {
    for (i, box) in boxes.enumerated() {
        for other in boxes[(i + 1)...] {
            #expect(!box.frame.intersects(other.frame), "\(box.label) overlaps \(other.label)",
                    sourceLocation: sourceLocation)
        }
        for other in boxes {
            #expect(!box.frame.intersects(other.marker), "\(box.label) covers the marker of \(other.label)",
                    sourceLocation: sourceLocation)
        }
    }
}

@Test func labelsStayInsideThePlot() {
    // A lone extreme point in each corner: labels must flip inwards rather than leave the figure.
    let points = [ScatterPoint(label: "top_right_corner_run", x: 1, y: 1),
                  ScatterPoint(label: "bottom_left_corner_run", x: 0, y: 0),
                  ScatterPoint(label: "top_left", x: 0, y: 1), ScatterPoint(label: "bottom_right", x: 1, y: 0)]
    let boxes = studyPlot(points: points).labelLayout(width: 400, height: 300)
    #expect(boxes.count == 4)
    for box in boxes {
        #expect(box.frame.x >= 0 && box.frame.maxX <= 400 && box.frame.y >= 0 && box.frame.maxY <= 300)
        for other in boxes { #expect(!box.frame.intersects(other.marker)) }
    }
}

@Test func identicalPointsGetSeparateLabels() {
    let points = (0..<5).map { ScatterPoint(label: "same_\($0)", x: 0.02, y: 30) }
    let boxes = studyPlot(points: points).labelLayout(width: 900, height: 600)
    #expect(boxes.count == 5)
    expectNoOverlaps(boxes)
}

// MARK: - Degenerate input

@Test func emptyAndNonFiniteInputStillRender() throws {
    let empty = studyPlot(points: [])
    #expect(empty.labelLayout(width: 900, height: 600).isEmpty)
    let png = try PNGFile.decode(try empty.render(format: .png), source: "empty.png")
    #expect(png.width == 900 && png.height == 600)

    let mixed = studyPlot(points: [ScatterPoint(label: "nan", x: .nan, y: 1),
                                   ScatterPoint(label: "ok", x: 0.01, y: 10, xError: .infinity, yError: -1),
                                   ScatterPoint(label: "inf", x: 0.02, y: .infinity)])
    #expect(mixed.labelLayout(width: 900, height: 600).map(\.label) == ["ok"])
    #expect(!(try mixed.render(format: .svg)).isEmpty)

    let lines = LinePlot(title: "Empty", xLabel: "Epoch", yLabel: "Loss",
                         series: [LinePlot.Series(label: "none", x: [], y: []),
                                  LinePlot.Series(label: "nan", y: [.nan, .nan])], logScaleY: true)
    #expect(try PNGFile.decode(try lines.render(format: .png), source: "lines.png").width == 900)
    #expect(!(try LinePlot(title: "No series", xLabel: "x", yLabel: "y", series: []).render(format: .pdf)).isEmpty)

    #expect(throws: PlottingError.invalidSize(width: 0, height: 600)) {
        try empty.render(format: .png, width: 0, height: 600)
    }
}

@Test(arguments: PlotFormat.allCases)
func barPlotRendersEveryFormat(format: PlotFormat) throws {
    let bytes = try klBars().render(format: format, width: 700, height: 400)
    switch format {
    case .png: #expect(try PNGFile.decode(bytes, source: "bars.png").width == 700)
    case .svg: #expect(SVGCheck().parse(bytes))
    case .pdf: #expect(isPDF(bytes))
    }
    let empty = BarPlot(title: "Empty", xLabel: "x", yLabel: "y", categories: [], series: [])
    #expect(try PNGFile.decode(try empty.render(format: .png), source: "empty.png").height == 600)
}

@Test func logScaleAndManySeries() throws {
    var plot = trainingCurves(count: 12)
    plot.logScaleY = true
    plot.series[0].y[0] = -1   // not drawable on a log axis: skipped
    let image = try PNGFile.decode(try plot.render(format: .png), source: "log.png")
    #expect(image.width == 900)
}

// MARK: - Writing files

@Test func writeProducesEveryFormatByExtension() throws {
    try withTemporaryFolder { folder in
        for format in PlotFormat.allCases {
            let path = folder + "/tradeoff." + format.rawValue
            try studyPlot().write(to: path)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            switch format {
            case .png:
                // Same picture as render(format: .png). Compared as pixels, not bytes: fontconfig rescans its
                // caches every 30 s, and on a fresh machine other processes (the suite's subprocesses) write
                // them, which can change glyph rasterisation between two renders minutes apart.
                let written = try PNGFile.decode(bytes, source: path)
                let rendered = try PNGFile.decode(try studyPlot().render(format: .png), source: "render")
                #expect(written.width == 900 && written.height == 600)
                #expect(written.width == rendered.width && written.height == rendered.height && written.channels == rendered.channels)
                let differing = zip(written.pixels, rendered.pixels).filter { $0 != $1 }.count
                #expect(differing <= written.pixels.count / 100, "\(differing) of \(written.pixels.count) channel values differ")
            case .svg: #expect(SVGCheck().parse(bytes))
            case .pdf: #expect(isPDF(bytes))
            }
            try trainingCurves().write(to: folder + "/curves." + format.rawValue)
        }
        #expect(try PNGFile.read(contentsOf: folder + "/curves.png").height == 600)
        // Only the finished files: no temporary files left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(names == ["curves.pdf", "curves.png", "curves.svg", "tradeoff.pdf", "tradeoff.png", "tradeoff.svg"])

        // Optional: keep the examples for a human to look at.
        if let keep = ProcessInfo.processInfo.environment["PLOTTING_EXAMPLES_DIR"] {
            for name in names {
                let target = keep + "/plotting-" + name
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: target)
            }
            try studyPlot(points: crowdedPoints).write(to: keep + "/plotting-tradeoff-crowded.png")
            try studyPlot(points: crowdedPoints).write(to: keep + "/plotting-tradeoff-crowded.pdf")
            try studyPlot(points: []).write(to: keep + "/plotting-tradeoff-empty.png")
            try LinePlot(title: "Gaps", xLabel: "Epoch", yLabel: "Loss",
                         series: [LinePlot.Series(label: "empty", y: []),
                                  LinePlot.Series(label: "gappy", y: [3, .nan, 2.5, 2, .nan, 1.9, .infinity, 1.7]),
                                  LinePlot.Series(label: "all_nan", y: [.nan])])
                .write(to: keep + "/plotting-curves-gaps.png")
            try klBars().write(to: keep + "/plotting-bars.png")
            var log = trainingCurves(count: 12)
            log.logScaleY = true
            try log.write(to: keep + "/plotting-curves-log.png")
        }
    }
}

@Test func writeIntoMissingFolderThrowsAndLeavesNothing() throws {
    try withTemporaryFolder { folder in
        let missing = folder + "/no-such-folder"
        #expect {
            try studyPlot().write(to: missing + "/tradeoff.png")
        } throws: { error in
            guard case .file = error as? PlottingError else { return false }
            return true
        }
        #expect(!FileManager.default.fileExists(atPath: missing))
        let left = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(left.isEmpty)
    }
}

@Test func unknownExtensionThrows() throws {
    try withTemporaryFolder { folder in
        for name in ["plot.jpg", "plot", "plot.png.bak"] {
            #expect(throws: PlottingError.unknownFormat(path: folder + "/" + name)) {
                try studyPlot().write(to: folder + "/" + name)
            }
            #expect(throws: PlottingError.self) { try trainingCurves().write(to: folder + "/" + name) }
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(left.isEmpty)
        #expect(PlottingError.unknownFormat(path: "a.jpg").description.contains(".png, .svg, .pdf"))
    }
}
