import Foundation
import Storage
import Testing
import TestSupport

/// The commands installed by `scripts/install --prefix` (from the debug build the suite has) work from an unrelated
/// folder, outside any checkout: they find the feature network and the study file in PREFIX/share/vae-toolkit,
/// train and evaluate a tiny run, and say so clearly when those assets are missing.
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct InstalledUseTests {
    /// Runs `executable` in `folder`, without $MNIST_DIR.
    static func run(_ executable: String, _ arguments: [String], in folder: String) throws -> CommandResult {
        try Executables.run(at: executable, arguments, environment: ["MNIST_DIR": nil], currentDirectory: folder)
    }

    @Test func installedCommandsTrainAndEvaluateFromAnUnrelatedFolder() throws {
        let folder = TemporaryFolder()
        let prefix = folder.path + "/prefix", work = folder.path + "/work"
        #expect(ProjectFolder.root(from: folder.path) == nil, "the temporary folder is inside a checkout")
        let install = try Self.run("/bin/bash", [Programs.repositoryRoot + "/scripts/install", "--prefix", prefix,
                                                 "--bin", Executables.binFolder.path], in: folder.path)
        try #require(install.status == 0, "\(install.stderr)")
        for command in ["vae-train", "vae-eval", "vae-bench"] {
            #expect(FileManager.default.isExecutableFile(atPath: prefix + "/bin/" + command))
        }
        let shippedNetwork = Programs.repositoryRoot + "/fixtures/feature-network/lenet-mnist.safetensors"
        let installedNetwork = prefix + "/share/vae-toolkit/feature-network/lenet-mnist.safetensors"
        #expect(try Data(contentsOf: URL(fileURLWithPath: installedNetwork)) == (try Data(contentsOf: URL(fileURLWithPath: shippedNetwork))))

        try FileManager.default.createDirectory(atPath: work + "/mnist", withIntermediateDirectories: true)
        try TinyMNIST.write(to: work + "/mnist", trainCount: 64, testCount: 64)
        let train = try Self.run(prefix + "/bin/vae-train", ["--model", "vae_std_z20", "--epochs", "1", "--batch-size", "32",
                                                             "--threads", "1", "--data", "mnist"], in: work)
        #expect(train.status == 0, "\(train.stderr)")
        let evaluate = try Self.run(prefix + "/bin/vae-eval", ["out/runs/vae_std_z20", "--data", "mnist", "--threads", "1"]
                                    + RunFolderSafetyTests.smallFID, in: work)
        #expect(evaluate.status == 0, "\(evaluate.stderr)")
        let results = try TinyTrainedRun.json(work + "/out/runs/vae_std_z20/results.json")
        let generation = try #require(TinyTrainedRun.priorGeneration(results))
        #expect(generation["featureNetworkSHA256"] as? String == (try RunFolderSafetyTests.sha(installedNetwork)))
        // The study file: a sweep of one run (already finished, skipped) and vae-bench's --study.
        let sweep = try Self.run(prefix + "/bin/vae-train", ["sweep", "--only", "vae_std_z20", "--data", "mnist"], in: work)
        #expect(sweep.status != 0 || sweep.stderr.contains("vae_std_z20"), "\(sweep.stderr)")
        #expect(!sweep.stderr.contains("cannot read the study file"), "\(sweep.stderr)")

        // Without the installed assets the same commands fail with one line naming what is missing.
        try FileManager.default.moveItem(atPath: prefix + "/share", toPath: folder.path + "/share-moved")
        let missing = try Self.run(prefix + "/bin/vae-eval", ["out/runs/vae_std_z20", "--data", "mnist", "--force"]
                                   + RunFolderSafetyTests.smallFID, in: work)
        #expect(missing.status != 0 && missing.stderr.contains("no feature network found"), "\(missing.stderr)")
        let noStudy = try Self.run(prefix + "/bin/vae-bench", ["--data", "mnist"], in: work)
        #expect(noStudy.status != 0 && noStudy.stderr.contains("pass --study PATH"), "\(noStudy.stderr)")
    }
}
