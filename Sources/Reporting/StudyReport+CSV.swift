import Evaluation
import Foundation

/// The whole study as one tidy table (one observation per row), the shape pandas and R read without reshaping.
extension StudyReport {
    /// `run,seed,folder,sampler,features,metric,value`: one row per run folder, sampler, feature network and metric.
    /// `seed` is empty for a folder without a seed suffix; `sampler` and `features` are empty for metrics of the model
    /// itself (test MSE, ELBO, log-likelihood, active units, training time). Values are printed in full precision.
    public var tidyCSV: String {
        var lines = ["run,seed,folder,sampler,features,metric,value"]
        for group in seedGroups {
            for member in group.members {
                let r = member.results
                func add(_ metric: String, _ value: Double?, sampler: String = "", features: String = "") {
                    guard let value, value.isFinite else { return }
                    let fields = [group.run, member.seed.map(String.init) ?? "", member.folderName, sampler, features, metric,
                                  "\(value)"]
                    lines.append(fields.map(Self.csvField).joined(separator: ","))
                }
                add("test_mse", r.reconstruction.meanSquaredError)
                add("negative_elbo", r.reconstruction.negativeELBO)
                add("log_likelihood", r.latent?.logLikelihood?.meanNats)
                add("log_likelihood_se", r.latent?.logLikelihood?.standardError)
                add("active_units", r.latent.map { Double($0.activeUnits) })
                add("training_seconds", r.trainingSeconds)
                add("seconds_per_epoch", r.trainingEpochs > 0 ? r.trainingSeconds / Double(r.trainingEpochs) : nil)
                for sampler in SeedAggregation.orderedSamplers((r.samplers ?? [:]).keys) {
                    for network in FeatureNetworkKind.allCases {
                        guard let g = r.samplers?[sampler]?.metrics(network) else { continue }
                        let features = network.rawValue
                        add("fid", g.fid.mean, sampler: sampler, features: features)
                        add("fid_draw_std", g.fid.values.count > 1 ? g.fid.standardDeviation : nil, sampler: sampler, features: features)
                        add("kid", g.kid.mean, sampler: sampler, features: features)
                        add("precision", g.precisionRecall.precision, sampler: sampler, features: features)
                        add("recall", g.precisionRecall.recall, sampler: sampler, features: features)
                        add("class_entropy", g.classes?.entropy, sampler: sampler, features: features)
                    }
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
