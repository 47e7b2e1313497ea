import Models
import Plotting

extension StudyReport {
    /// The training curves with one panel per kind of loss (`ModelKind.trainingLossTerms` and `trainingLossUnit`), in
    /// the order the kinds first appear in `curves`: nats and squared errors never share an axis. `kind` is the
    /// results' `modelKind`; an unknown kind gets a panel of its own.
    static func trainingCurvePanels(title: String, curves: [(kind: String, series: LinePlot.Series)]) -> LinePanels {
        var order: [String] = []
        var groups: [String: (terms: String, unit: String, series: [LinePlot.Series])] = [:]
        for curve in curves {
            let kind = ModelKind(rawValue: curve.kind)
            let terms = kind.trainingLossTerms, unit = kind.trainingLossUnit
            let key = terms + "|" + unit
            if groups[key] == nil { order.append(key); groups[key] = (terms, unit, []) }
            groups[key]!.series.append(curve.series)
        }
        return LinePanels(panels: order.map { key in
            let group = groups[key]!
            return LinePlot(title: "\(title): \(group.terms)", xLabel: "epoch", yLabel: "\(group.unit) (log scale)",
                            series: group.series, logScaleY: true)
        })
    }
}
