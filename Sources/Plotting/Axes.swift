import Foundation

/// An axis-aligned rectangle in drawing units; `y` grows downwards (row 0 is the top of the plot).
public struct PlotRect: Equatable {
    /// Left edge.
    public var x: Double
    /// Top edge.
    public var y: Double
    /// Width, >= 0.
    public var width: Double
    /// Height, >= 0.
    public var height: Double

    /// Creates a rectangle from its top-left corner and size.
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// Right edge.
    public var maxX: Double { x + width }
    /// Bottom edge.
    public var maxY: Double { y + height }
    /// Horizontal centre.
    public var midX: Double { x + width / 2 }
    /// Vertical centre.
    public var midY: Double { y + height / 2 }

    /// Whether the two rectangles share an area of positive size (touching edges do not count).
    public func intersects(_ other: PlotRect) -> Bool {
        x < other.maxX && other.x < maxX && y < other.maxY && other.y < maxY
    }

    /// Whether `other` lies entirely inside this rectangle (edges included).
    public func contains(_ other: PlotRect) -> Bool {
        other.x >= x && other.maxX <= maxX && other.y >= y && other.maxY <= maxY
    }

    /// The rectangle grown by `amount` on every side (shrunk for negative amounts).
    func insetBy(_ amount: Double) -> PlotRect {
        PlotRect(x: x + amount, y: y + amount, width: max(0, width - 2 * amount),
                 height: max(0, height - 2 * amount))
    }

    func outsetBy(_ amount: Double) -> PlotRect { insetBy(-amount) }

    /// Area shared with `other` (0 if they do not intersect).
    func overlapArea(with other: PlotRect) -> Double {
        let w = min(maxX, other.maxX) - max(x, other.x)
        let h = min(maxY, other.maxY) - max(y, other.y)
        return w > 0 && h > 0 ? w * h : 0
    }

    /// Whether the segment from `a` to `b` passes through the interior of the rectangle
    /// (Liang-Barsky clipping).
    func intersectsSegment(from a: (x: Double, y: Double), to b: (x: Double, y: Double)) -> Bool {
        var t0 = 0.0, t1 = 1.0
        let dx = b.x - a.x, dy = b.y - a.y
        for (p, q) in [(-dx, a.x - x), (dx, maxX - a.x), (-dy, a.y - y), (dy, maxY - a.y)] {
            if p == 0 {
                if q <= 0 { return false }
            } else {
                let t = q / p
                if p < 0 { t0 = max(t0, t) } else { t1 = min(t1, t) }
                if t0 >= t1 { return false }
            }
        }
        return true
    }
}

/// One axis: its value range, tick positions and tick labels.
struct Axis {
    var lower: Double
    var upper: Double
    var logarithmic = false
    var ticks: [Double] = []
    var tickLabels: [String] = []

    /// Position of `value` along the axis: 0 at `lower`, 1 at `upper`.
    func fraction(_ value: Double) -> Double {
        if logarithmic {
            return (log10(value) - log10(lower)) / (log10(upper) - log10(lower))
        }
        return (value - lower) / (upper - lower)
    }

    /// Whether `value` can be drawn on this axis (finite, and positive on a logarithmic axis).
    func accepts(_ value: Double) -> Bool {
        value.isFinite && (!logarithmic || value > 0)
    }

    /// A linear axis over `lower...upper` with "nice" ticks (steps of 1, 2 or 5 times a power of ten),
    /// aiming for about `targetCount` ticks and never fewer than `minimumStep` apart.
    static func linear(lower: Double, upper: Double, targetCount: Int, minimumStep: Double = 0) -> Axis {
        var axis = Axis(lower: lower, upper: upper)
        let step = max(niceStep(for: (upper - lower) / Double(max(1, targetCount))), minimumStep)
        let first = (lower / step).rounded(.up)
        let last = (upper / step).rounded(.down)
        if first <= last, last - first < 1000 {
            let decimals = max(0, Int(-log10(step).rounded(.down)))
            for index in Int(first)...Int(last) {
                var value = Double(index) * step
                if abs(value) < step * 1e-9 { value = 0 }
                axis.ticks.append(value)
                axis.tickLabels.append(formatTick(value, decimals: decimals))
            }
        }
        return axis
    }

    /// A logarithmic axis over `lower...upper` (both > 0): ticks at powers of ten, at 1-2-5 multiples when
    /// the range spans few decades, or at linear nice values when it lies within a factor of a few.
    static func logarithmic(lower: Double, upper: Double, targetCount: Int) -> Axis {
        var axis = Axis(lower: lower, upper: upper, logarithmic: true)
        let lowDecade = Int(log10(lower).rounded(.down))
        let highDecade = Int(log10(upper).rounded(.up))
        let decades = highDecade - lowDecade
        var candidates: [(value: Double, decade: Int)] = []
        if decades >= 4 {
            let every = max(1, Int((Double(decades) / Double(max(2, targetCount))).rounded(.up)))
            for decade in stride(from: lowDecade, through: highDecade, by: every) {
                candidates.append((pow(10, Double(decade)), decade))
            }
        } else {
            for decade in lowDecade...highDecade {
                for multiple in [1.0, 2.0, 5.0] {
                    candidates.append((multiple * pow(10, Double(decade)), decade))
                }
            }
        }
        let inside = candidates.filter { $0.value >= lower * (1 - 1e-9) && $0.value <= upper * (1 + 1e-9) }
        if inside.count >= 3 {
            for tick in inside {
                axis.ticks.append(tick.value)
                axis.tickLabels.append(formatTick(tick.value, decimals: max(0, -tick.decade)))
            }
        } else {
            let linear = Axis.linear(lower: lower, upper: upper, targetCount: targetCount)
            for (value, label) in zip(linear.ticks, linear.tickLabels) where value > 0 {
                axis.ticks.append(value)
                axis.tickLabels.append(label)
            }
        }
        return axis
    }

    /// The smallest of 1, 2, 5 or 10 times a power of ten that is >= `raw`.
    static func niceStep(for raw: Double) -> Double {
        guard raw.isFinite, raw > 0 else { return 1 }
        let magnitude = pow(10, log10(raw).rounded(.down))
        for multiple in [1.0, 2.0, 5.0, 10.0] where multiple * magnitude >= raw * (1 - 1e-9) {
            return multiple * magnitude
        }
        return 10 * magnitude
    }

    /// `value` with `decimals` digits after the point; scientific notation for very large or small values.
    static func formatTick(_ value: Double, decimals: Int) -> String {
        if value != 0, abs(value) >= 1e6 || decimals > 6 {
            return String(format: "%.0e", value)
        }
        return String(format: "%.\(decimals)f", value)
    }
}

/// Padding added around data so that markers do not sit on the frame.
func paddedRange(_ low: Double, _ high: Double, fraction: Double, logarithmic: Bool = false)
    -> (lower: Double, upper: Double) {
    if logarithmic {
        let range = paddedRange(log10(low), log10(high), fraction: fraction)
        return (pow(10, range.lower), pow(10, range.upper))
    }
    var low = low, high = high
    if !(high > low) {
        let half = low == 0 ? 1 : abs(low) * 0.1
        low -= half
        high += half
    }
    let pad = (high - low) * fraction
    return (low - pad, high + pad)
}

/// Draws grid lines, the frame, ticks, tick labels and axis labels around `plot`.
/// `verticalGrid` false leaves out the grid lines at the x ticks (for bar charts).
func drawAxes(on canvas: CairoCanvas, plot: PlotRect, x: Axis, y: Axis, xLabel: String, yLabel: String,
              verticalGrid: Bool = true) {
    // Grid.
    canvas.setColor(.grid)
    canvas.setLine(width: 1)
    for tick in x.ticks where verticalGrid {
        let px = (plot.x + x.fraction(tick) * plot.width).rounded() + 0.5
        canvas.line(from: (px, plot.y), to: (px, plot.maxY))
    }
    for tick in y.ticks {
        let py = (plot.maxY - y.fraction(tick) * plot.height).rounded() + 0.5
        canvas.line(from: (plot.x, py), to: (plot.maxX, py))
    }
    // Frame.
    canvas.setColor(.frame)
    canvas.rectangle(plot)
    canvas.stroke()
    // Ticks and their labels.
    let tickLength = 5.0
    let tickGap = 4.0
    canvas.setColor(.axis)
    for (tick, label) in zip(x.ticks, x.tickLabels) {
        let px = (plot.x + x.fraction(tick) * plot.width).rounded() + 0.5
        canvas.setColor(.axis)
        canvas.line(from: (px, plot.maxY), to: (px, plot.maxY + tickLength))
        let half = canvas.lineHeight(.tickLabel) / 2
        canvas.drawText(label, x: px, centerY: plot.maxY + tickLength + tickGap + half, alignment: .center,
                        style: .tickLabel, color: .secondaryText)
    }
    for (tick, label) in zip(y.ticks, y.tickLabels) {
        let py = (plot.maxY - y.fraction(tick) * plot.height).rounded() + 0.5
        canvas.setColor(.axis)
        canvas.line(from: (plot.x - tickLength, py), to: (plot.x, py))
        canvas.drawText(label, x: plot.x - tickLength - tickGap, centerY: py, alignment: .right,
                        style: .tickLabel, color: .secondaryText)
    }
    // Axis labels.
    let tickLabelHeight = canvas.lineHeight(.tickLabel)
    let axisLabelHeight = canvas.lineHeight(.axisLabel)
    canvas.drawText(xLabel, x: plot.midX,
                    centerY: plot.maxY + tickLength + tickGap + tickLabelHeight + 8 + axisLabelHeight / 2,
                    alignment: .center, style: .axisLabel)
    let widest = y.tickLabels.map { canvas.textWidth($0, style: .tickLabel) }.max() ?? 0
    canvas.drawVerticalText(yLabel, centerX: plot.x - tickLength - tickGap - widest - 10 - axisLabelHeight / 2,
                            centerY: plot.midY, style: .axisLabel)
}

/// Space needed outside the plot rectangle for ticks, tick labels and axis labels.
enum AxisMargins {
    static let outer = 16.0

    /// Width left of the plot for y tick labels `labels` and a rotated axis label.
    static func left(yTickLabels labels: [String], canvas: CairoCanvas) -> Double {
        let widest = labels.map { canvas.textWidth($0, style: .tickLabel) }.max() ?? 0
        return outer + canvas.lineHeight(.axisLabel) + 10 + widest + 4 + 5
    }

    /// Height below the plot for x tick labels and the axis label.
    static func bottom(canvas: CairoCanvas) -> Double {
        5 + 4 + canvas.lineHeight(.tickLabel) + 8 + canvas.lineHeight(.axisLabel) + outer
    }

    /// Fits x ticks to the plot width: the largest tick count (up to one per `spacing` units) whose labels
    /// keep at least 14 units apart.
    static func fitXAxis(lower: Double, upper: Double, width: Double, canvas: CairoCanvas,
                         spacing: Double = 85, minimumStep: Double = 0,
                         make: ((Int) -> Axis)? = nil) -> Axis {
        var target = max(2, Int(width / spacing))
        while true {
            let axis = make?(target)
                ?? Axis.linear(lower: lower, upper: upper, targetCount: target, minimumStep: minimumStep)
            if target <= 2 || labelsFit(axis, width: width, canvas: canvas) { return axis }
            target -= 1
        }
    }

    private static func labelsFit(_ axis: Axis, width: Double, canvas: CairoCanvas) -> Bool {
        var previousRight = -Double.infinity
        for (tick, label) in zip(axis.ticks, axis.tickLabels) {
            let center = axis.fraction(tick) * width
            let half = canvas.textWidth(label, style: .tickLabel) / 2
            if center - half < previousRight + 14 { return false }
            previousRight = center + half
        }
        return true
    }
}
