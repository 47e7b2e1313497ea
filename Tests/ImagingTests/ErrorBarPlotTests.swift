import Foundation
import Imaging
import Plotting
import Testing

/// Error bars in both directions on the trade-off plot: the axis ranges take them in, they are drawn, and
/// labels keep off them where there is room.
@Suite struct ErrorBarPlotTests {
    /// Three runs with error bars over seeds; the outer ones have the widest bars, so the bars, not the
    /// points, set the axis ranges.
    static let points = [
        ScatterPoint(label: "vae_std_z20", x: 0.0110, y: 400, xError: 0.0004, yError: 10),
        ScatterPoint(label: "vq_vae", x: 0.0033, y: 560, xError: 0.0010, yError: 40),
        ScatterPoint(label: "beta_vae_4", x: 0.0200, y: 300, xError: 0.0030, yError: 45),
        ScatterPoint(label: "one_seed", x: 0.0150, y: 450),
    ]

    static let plot = TradeoffPlot(title: "Reconstruction vs generation over 3 seeds", subtitle: "error bars: ±1 std over seeds",
                                   xLabel: "test MSE", yLabel: "FID", points: points)

    @Test(arguments: [(900.0, 600.0), (600.0, 400.0)])
    func axisRangesIncludeTheBars(width: Double, height: Double) throws {
        let geometry = try #require(Self.plot.geometry(width: width, height: height))
        for p in Self.points {
            let dx = p.xError ?? 0, dy = p.yError ?? 0
            #expect(geometry.xRange.contains(p.x - dx) && geometry.xRange.contains(p.x + dx), "\(p.label) x \(geometry.xRange)")
            #expect(geometry.yRange.contains(p.y - dy) && geometry.yRange.contains(p.y + dy), "\(p.label) y \(geometry.yRange)")
        }
        // One horizontal and one vertical bar per point with errors, all inside the plot area.
        #expect(geometry.errorBars.map(\.pointIndex) == [0, 0, 1, 1, 2, 2])
        #expect(geometry.errorBars.map(\.isHorizontal) == [true, false, true, false, true, false])
        for bar in geometry.errorBars {
            #expect(geometry.plot.contains(bar.frame), "bar of \(Self.points[bar.pointIndex].label) leaves the plot")
        }
        // The bars' lengths follow the errors: beta_vae_4's horizontal bar is 3x vq_vae's.
        let widths = geometry.errorBars.filter(\.isHorizontal).map(\.frame.width)
        #expect(abs(widths[2] / widths[1] - 3) < 1e-9)
    }

    @Test func labelsKeepOffTheBars() throws {
        let geometry = try #require(Self.plot.geometry(width: 900, height: 600))
        #expect(geometry.labels.count == Self.points.count)
        for label in geometry.labels {
            for bar in geometry.errorBars {
                #expect(!label.frame.intersects(bar.frame), "\(label.label) crosses a bar of \(Self.points[bar.pointIndex].label)")
            }
            for other in geometry.labels where other.pointIndex != label.pointIndex {
                #expect(!label.frame.intersects(other.frame) && !label.frame.intersects(other.marker))
            }
        }
    }

    @Test func barsAreDrawn() throws {
        let geometry = try #require(Self.plot.geometry(width: 900, height: 600))
        let image = try PNGFile.decode(try Self.plot.render(format: .png, width: 900, height: 600), source: "bars.png")
        #expect(image.width == 900 && image.height == 600)
        // Along each bar, halfway between the marker and the cap, the line darkens the white background.
        for bar in geometry.errorBars {
            let f = bar.frame
            let (x, y) = bar.isHorizontal ? (f.x + f.width / 8, f.midY) : (f.midX, f.y + f.height / 8)
            let darkest = (-1...1).flatMap { dx in (-1...1).map { dy in
                let offset = ((Int(y) + dy) * image.width + Int(x) + dx) * image.channels
                return (0..<min(3, image.channels)).map { Int(image.pixels[offset + $0]) }.min()!
            } }.min()!
            #expect(darkest < 200, "no bar drawn at \(x), \(y) for \(Self.points[bar.pointIndex].label)")
        }
    }
}
