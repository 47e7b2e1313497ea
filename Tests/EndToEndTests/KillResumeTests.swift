import Foundation
import Testing
import TestSupport

/// Runs scripts/kill-resume-test with small bounded parameters against the built vae-train: SIGKILL during an
/// epoch, during a checkpoint write, and in a storm of short random kills; each resumed run must end with tensors
/// bit-identical to an uninterrupted run's. Takes about 30 s per run on a debug build. vae_std_z20_bn adds batch
/// norm's buffers (running mean and variance, the int64 `num_batches_tracked`), which must match bit for bit too.
@Suite(.serialized, .tags(.slow), .skippedWhenFast) struct KillResumeTests {
    @Test(arguments: ["vae_std_z20", "vae_std_z20_bn"])
    func killedRunsResumeBitIdentically(model: String) throws {
        let script = Programs.repositoryRoot + "/scripts/kill-resume-test"
        try #require(FileManager.default.isExecutableFile(atPath: script), "missing \(script)")
        let result = try Programs.run("/bin/bash", [script, "--bin", Executables.binFolder.path, "--trials", "3",
                                                    "--storm-kills", "5", "--epochs", "3", "--images", "128", "--seed", "5",
                                                    "--model", model],
                                      timeout: 240)
        print(result.stdout)
        #expect(!result.timedOut, "kill-resume-test did not finish in time")
        #expect(result.status == 0, "kill-resume-test failed:\n\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("kill-resume-test: 3 trials run, 3 passed"), "\(result.stdout)")
    }
}
