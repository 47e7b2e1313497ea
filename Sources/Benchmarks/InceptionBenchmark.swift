import Autodiff
import Evaluation
import Foundation
import LinearAlgebra
import Models
import Storage

/// Timing of Inception-v3's pool3 features (pytorch-fid's network, seeded random weights) on one thread count.
public struct InceptionTiming: Codable, Sendable {
    public var threads: Int
    public var images: Int
    public var seconds: Double
    public var imagesPerSecond: Double
    /// Convolution work per image (2 x `InceptionV3.multiplyAddsPerImage`, 11.4 GFLOP) and its rate.
    public var gigaflopsPerImage: Double
    public var gigaflopsPerSecond: Double
    /// The machine's FMA limit on this many threads (`scripts/fma-peak`), when measured.
    public var fmaLimit: Double?
    /// pytorch-fid's own model on the same machine, same thread count, same run (`--compare-torch`).
    public var torchImagesPerSecond: Double?
    /// The fraction of the FMA limit the convolutions run at.
    public var fractionOfLimit: Double? { fmaLimit.map { gigaflopsPerSecond / $0 } }
}

extension Benchmark {
    /// Times `InceptionV3.features` of the first `count` images of `images` ([n, 784], pixels in [0, 1]) on seeded
    /// random weights, after a warm-up group; `progress` shows images/s and the ETA.
    public static func inception(images: [Float], count: Int, threads: Int) throws -> InceptionTiming {
        precondition(count >= 1 && images.count >= count * 784, "Benchmark.inception: \(count) images wanted, \(images.count / 784) given")
        BLASRuntime.threadCount = threads
        let network = try InceptionV3(tensors: InceptionV3.randomTensors(seed: 1), source: "random weights")
        let batch = Array(images[..<(count * 784)])
        _ = network.features(of: Array(batch[..<(min(count, InceptionV3.imagesPerGroup) * 784)]),
                             count: min(count, InceptionV3.imagesPerGroup))
        let progress = StageProgress(stage: "Inception features, \(threads) thread(s)", total: count)
        let start = DispatchTime.now().uptimeNanoseconds
        _ = network.features(of: batch, count: count) { done, _ in progress.update(done) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        progress.finish()
        let perImage = 2 * Double(InceptionV3.multiplyAddsPerImage) / 1e9
        return InceptionTiming(threads: threads, images: count, seconds: seconds, imagesPerSecond: Double(count) / seconds,
                               gigaflopsPerImage: perImage, gigaflopsPerSecond: perImage * Double(count) / seconds)
    }

    /// The cores' FMA limit in GFLOP/s per thread count, from `scripts/fma-peak` (the faster of its 256- and 512-bit
    /// kernels); nil with a logged reason when the script cannot run (it needs a C compiler).
    public static func fmaLimit(threads: [Int], log: (String) -> Void) -> [Int: Double]? {
        guard let root = ProjectFolder.root() else { log("fma-peak: run from inside the repo"); return nil }
        let result = TorchComparison.run([root + "/scripts/fma-peak"] + threads.map(String.init))
        guard result.status == 0 else { log("fma-peak failed: \(result.error)"); return nil }
        var limits: [Int: Double] = [:]
        // Lines "512-bit FMA, 2 thread(s): 351.0 GFLOP/s".
        for line in result.output.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count >= 5, let t = Int(words[2]), let rate = Double(words[4]) else { continue }
            limits[t] = max(limits[t] ?? 0, rate)
        }
        return limits.isEmpty ? nil : limits
    }
}

extension TorchComparison {
    /// pytorch-fid's own InceptionV3 (random weights, pytorch-fid's batch of 50) in images/s per thread count, timed by
    /// `scripts/inception_reference.py time` through `scripts/torch-python`; nil with a logged reason without torch.
    public static func measureInception(threads: [Int], images: Int, log: (String) -> Void) -> [Int: Double]? {
        guard let root = ProjectFolder.root() else { log("--compare-torch: run from inside the repo"); return nil }
        let result = run([root + "/scripts/torch-python", root + "/scripts/inception_reference.py", "time",
                          "--threads", threads.map(String.init).joined(separator: ","), "--images", String(max(50, images))])
        guard result.status == 0 else { log("--compare-torch: pytorch-fid timing failed: \(result.error)"); return nil }
        var rates: [Int: Double] = [:]
        for line in result.output.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let t = object["threads"] as? Int, let rate = object["images_per_second"] as? Double else { continue }
            rates[t] = rate
        }
        return rates
    }
}
