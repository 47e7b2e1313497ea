import Foundation
import Models
import Training

/// The shipped study file (`fixtures/study.json`), the one list of runs: tests build its runs' models from it.
public enum ShippedStudy {
    public static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../fixtures/study.json").standardized.path
    public static let study: Study = try! Study.load(from: path)
    /// The study's run names, in study order.
    public static var runNames: [String] { study.runs.map(\.name) }
    /// The model configuration of the run named `run`.
    public static func configuration(_ run: String) throws -> ModelConfiguration { try study.runs(only: [run])[0].model }
}
