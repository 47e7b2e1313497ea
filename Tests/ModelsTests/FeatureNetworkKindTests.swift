import Evaluation
import Foundation
import Testing

/// `--features`: names and comma lists, in declaration order without repeats, LeNet when none is named.
struct FeatureNetworkKindTests {
    @Test(arguments: [
        ([], [FeatureNetworkKind.lenet]),
        (["lenet"], [.lenet]),
        (["inception"], [.inception]),
        (["inception,lenet"], [.lenet, .inception]),
        (["inception", "lenet", "inception"], [.lenet, .inception]),
        ([" lenet , inception "], [.lenet, .inception]),
    ] as [([String], [FeatureNetworkKind])])
    func parses(_ arguments: [String], _ expected: [FeatureNetworkKind]) throws {
        #expect(try FeatureNetworkKind.parse(arguments) == expected)
    }

    @Test func refusesUnknownNames() {
        #expect(throws: EvaluationError.invalidSetting("unknown feature network 'clip' (known: lenet, inception)")) {
            try FeatureNetworkKind.parse(["lenet,clip"])
        }
    }

    /// LeNet alone is recorded as before (no `features`), so a LeNet evaluation's settings read as in version 2.
    @Test func settingsRecordNetworksBesidesLeNetOnly() {
        var settings = EvaluationSettings(seed: 0, dataChecksum: "x", generation: GenerationSettings())
        settings.setFeatureKinds([.lenet])
        #expect(settings.features == nil && settings.featureKinds == [.lenet])
        settings.setFeatureKinds([.inception, .lenet])
        #expect(settings.features == ["lenet", "inception"] && settings.featureKinds == [.lenet, .inception])
        settings.generation = nil
        #expect(settings.featureKinds == [])
    }
}
