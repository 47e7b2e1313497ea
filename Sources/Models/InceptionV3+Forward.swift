import LinearAlgebra
import Synchronization

extension InceptionV3 {
    /// Images per group: one worker runs a group through the whole network on its own, so a 1 x 1 convolution of
    /// Mixed_7 (8 x 8 positions) is one product of 8 * 64 = 512 rows.
    public static let imagesPerGroup = 8

    /// The pool3 features [count, 2048] (row-major) of `count` grey images ([count, side * side], pixels in [0, 1]:
    /// uint8 / 255 as pytorch-fid reads a PNG; 28 x 28 for MNIST).
    ///
    /// The images are cut into groups of `imagesPerGroup` (the last may be smaller); each of
    /// `BLASRuntime.threadCount` workers takes the next group and runs it through the whole network single-threaded,
    /// so the features do not depend on the thread count. Memory: about 150 MB of scratch per worker.
    /// `progress(done, count)` is called after every group, from one thread at a time (not necessarily the caller's).
    public func features(of images: [Float], count: Int, side: Int = 28,
                         progress: ((_ done: Int, _ total: Int) -> Void)? = nil) -> [Float] {
        features(of: images, count: count, side: side, threads: BLASRuntime.threadCount, progress: progress)
    }

    /// `features(of:count:side:progress:)` on `threads` workers.
    func features(of images: [Float], count: Int, side: Int, threads: Int,
                  progress: ((_ done: Int, _ total: Int) -> Void)?) -> [Float] {
        precondition(side >= 1 && images.count == count * side * side,
                     "InceptionV3.features: \(images.count) values for \(count) images of \(side) x \(side)")
        guard count > 0 else { return [] }
        let group = Self.imagesPerGroup, groups = (count + group - 1) / group
        let workers = max(1, min(threads, groups))
        let workspaces = (0..<workers).map { _ in Workspace() }
        let resize = BilinearResize(from: side, to: Self.inputSide)
        var output = [Float](repeating: 0, count: count * Self.featureSize)
        let next = Atomic<Int>(0), done = Atomic<Int>(0)
        images.withUnsafeBufferPointer { pixels in
            output.withUnsafeMutableBufferPointer { features in
                let (source, target) = (pixels.baseAddress!, features.baseAddress!)
                WorkerPool.run(iterations: workers) { worker in
                    while true {
                        let index = next.add(1, ordering: .relaxed).oldValue
                        guard index < groups else { break }
                        let start = index * group, size = min(group, count - start)
                        forward(source + start * side * side, count: size, resize: resize,
                                into: target + start * Self.featureSize, workspace: workspaces[worker])
                        let finished = done.add(size, ordering: .relaxed).newValue
                        if worker == 0 { progress?(finished, count) }
                    }
                }
            }
        }
        progress?(count, count)
        return output
    }

    /// One group of `count` images through the network, features into `output` ([count, 2048]).
    func forward(_ images: UnsafePointer<Float>, count: Int, resize: BilinearResize,
                 into output: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let side = Self.inputSide
        let input = workspace.map(.input, count, side, side, 1)
        for n in 0..<count { resize.apply(images + n * resize.inputSide * resize.inputSide, into: input.at(n, 0, 0)) }
        var x = input
        var slot = Workspace.Slot.trunkA
        func conv(_ name: String) {
            let layer = convolutions[name]!
            let y = workspace.map(slot, count, layer.outputHeight(x.height), layer.outputWidth(x.width), layer.outputChannels)
            layer.apply(x, into: y, columns: workspace.columns(for: layer, positions: y.positions))
            x = y; slot = slot.other
        }
        func maxPool() {
            let s = Pool3x3.outputSide(x.height, stride: 2, padding: 0)
            let y = workspace.map(slot, count, s, s, x.channels)
            Pool3x3.max(x, stride: 2, padding: 0, into: y)
            x = y; slot = slot.other
        }
        conv("Conv2d_1a_3x3"); conv("Conv2d_2a_3x3"); conv("Conv2d_2b_3x3"); maxPool()
        conv("Conv2d_3b_1x1"); conv("Conv2d_4a_3x3"); maxPool()
        for block in Self.blocks {
            let y = mixed(block.name, block.kind, x, into: slot, workspace: workspace)
            x = y; slot = slot.other
        }
        x.globalAverage(into: output)
    }

    /// Runs the Mixed block `name` on `x`, writing its concatenated output into `slot`.
    private func mixed(_ name: String, _ kind: BlockKind, _ x: FeatureMap, into slot: Workspace.Slot,
                       workspace: Workspace) -> FeatureMap {
        let n = x.images, s = x.height
        func layer(_ branch: String) -> FoldedConvolution { convolutions[name + "." + branch]! }
        /// Applies `branch` to `input`, into `target` or a new map in `scratch`.
        @discardableResult
        func run(_ branch: String, _ input: FeatureMap, into target: FeatureMap? = nil,
                 scratch: Workspace.Slot = .branchA) -> FeatureMap {
            let l = layer(branch)
            let y = target ?? workspace.map(scratch, n, l.outputHeight(input.height), l.outputWidth(input.width), l.outputChannels)
            l.apply(input, into: y, columns: workspace.columns(for: l, positions: y.positions))
            return y
        }
        /// The fused opening 1 x 1 convolutions.
        func opening() -> FeatureMap { run("fused", x, scratch: .opening) }
        func pooled(maximum: Bool) -> FeatureMap {
            let p = workspace.map(.pooled, n, s, s, x.channels)
            if maximum { Pool3x3.max(x, stride: 1, padding: 1, into: p) } else { Pool3x3.average(x, stride: 1, padding: 1, into: p) }
            return p
        }
        let down = Pool3x3.outputSide(s, stride: 2, padding: 0)
        switch kind {
        case .a:
            let pool = layer("branch_pool").outputChannels
            let y = workspace.map(slot, n, s, s, 224 + pool)
            let f = opening()                                        // [64 | 48 | 64]
            y.slice(0..<64).copy(from: f.slice(0..<64))
            run("branch5x5_2", f.slice(64..<112), into: y.slice(64..<128))
            let d = run("branch3x3dbl_2", f.slice(112..<176))
            run("branch3x3dbl_3", d, into: y.slice(128..<224))
            run("branch_pool", pooled(maximum: false), into: y.slice(224..<(224 + pool)))
            return y
        case .b:
            let y = workspace.map(slot, n, down, down, 480 + x.channels)
            run("branch3x3", x, into: y.slice(0..<384))
            let d1 = run("branch3x3dbl_1", x, scratch: .branchA)
            let d2 = run("branch3x3dbl_2", d1, scratch: .branchB)
            run("branch3x3dbl_3", d2, into: y.slice(384..<480))
            Pool3x3.max(x, stride: 2, padding: 0, into: y.slice(480..<(480 + x.channels)))
            return y
        case .c:
            let c7 = layer("branch7x7_1").outputChannels
            let y = workspace.map(slot, n, s, s, 768)
            let f = opening()                                        // [192 | c7 | c7]
            y.slice(0..<192).copy(from: f.slice(0..<192))
            let a = run("branch7x7_2", f.slice(192..<(192 + c7)))
            run("branch7x7_3", a, into: y.slice(192..<384))
            var d = run("branch7x7dbl_2", f.slice((192 + c7)..<(192 + 2 * c7)), scratch: .branchA)
            d = run("branch7x7dbl_3", d, scratch: .branchB)
            d = run("branch7x7dbl_4", d, scratch: .branchA)
            run("branch7x7dbl_5", d, into: y.slice(384..<576))
            run("branch_pool", pooled(maximum: false), into: y.slice(576..<768))
            return y
        case .d:
            let y = workspace.map(slot, n, down, down, 512 + x.channels)
            let f = opening()                                        // [192 | 192]
            run("branch3x3_2", f.slice(0..<192), into: y.slice(0..<320))
            var d = run("branch7x7x3_2", f.slice(192..<384), scratch: .branchA)
            d = run("branch7x7x3_3", d, scratch: .branchB)
            run("branch7x7x3_4", d, into: y.slice(320..<512))
            Pool3x3.max(x, stride: 2, padding: 0, into: y.slice(512..<(512 + x.channels)))
            return y
        case .e1, .e2:
            let y = workspace.map(slot, n, s, s, 2048)
            let f = opening()                                        // [320 | 384 | 448]
            y.slice(0..<320).copy(from: f.slice(0..<320))
            run("branch3x3_2a", f.slice(320..<704), into: y.slice(320..<704))
            run("branch3x3_2b", f.slice(320..<704), into: y.slice(704..<1088))
            let d = run("branch3x3dbl_2", f.slice(704..<1152))
            run("branch3x3dbl_3a", d, into: y.slice(1088..<1472))
            run("branch3x3dbl_3b", d, into: y.slice(1472..<1856))
            run("branch_pool", pooled(maximum: kind == .e2), into: y.slice(1856..<2048))
            return y
        }
    }
}

/// One worker's scratch for the forward pass: a growing buffer per slot, reused from group to group, freed on
/// deinit.
final class Workspace {
    enum Slot: Int, CaseIterable {
        /// The trunk's activations, alternately (a block reads one and writes the other).
        case trunkA, trunkB
        /// A block's fused opening 1 x 1 convolutions; its branches' intermediate maps; its pooled input.
        case opening, branchA, branchB, pooled
        /// The resized input images; the column matrices.
        case input, columns
        var other: Slot { self == .trunkA ? .trunkB : .trunkA }
    }
    private var buffers: [UnsafeMutablePointer<Float>?] = Array(repeating: nil, count: Slot.allCases.count)
    private var capacities = [Int](repeating: 0, count: Slot.allCases.count)

    /// At least `count` floats of `slot` (its previous contents are not kept when it grows).
    func buffer(_ slot: Slot, _ count: Int) -> UnsafeMutablePointer<Float> {
        let i = slot.rawValue
        if capacities[i] < count {
            buffers[i]?.deallocate()
            buffers[i] = .allocate(capacity: count)
            capacities[i] = count
        }
        return buffers[i]!
    }

    /// A dense map of `images` x `height` x `width` x `channels` in `slot`.
    func map(_ slot: Slot, _ images: Int, _ height: Int, _ width: Int, _ channels: Int) -> FeatureMap {
        FeatureMap(base: buffer(slot, images * height * width * channels), images: images, height: height, width: width,
                   channels: channels)
    }

    /// Column scratch for `layer` over `positions` output positions (nil for a pointwise layer).
    func columns(for layer: FoldedConvolution, positions: Int) -> UnsafeMutablePointer<Float>? {
        layer.isPointwise ? nil : buffer(.columns, layer.columnScratch(positions: positions))
    }

    deinit { for buffer in buffers { buffer?.deallocate() } }
}

/// PyTorch's bilinear resize of a square grey image (`F.interpolate(mode="bilinear", align_corners=False)`), then
/// 2x - 1 (pytorch-fid's `normalize_input`).
///
/// Output pixel i reads source coordinate max(0, (i + 0.5) * in/out - 0.5) (in Float, as ATen): rows (and columns)
/// i0 = floor of it and i1 = min(i0 + 1, in - 1), weights 1 - l and l, l its fractional part; the value is
/// (x[i0, j0] w0 + x[i0, j1] w1) h0 + (x[i1, j0] w0 + x[i1, j1] w1) h1, in that order.
struct BilinearResize: Sendable {
    let inputSide: Int, outputSide: Int
    let lower: [Int], upper: [Int], weight: [Float]

    init(from inputSide: Int, to outputSide: Int) {
        self.inputSide = inputSide; self.outputSide = outputSide
        let scale = Float(inputSide) / Float(outputSide)
        var lower = [Int](), upper = [Int](), weight = [Float]()
        for i in 0..<outputSide {
            let source = max(0, scale * (Float(i) + 0.5) - 0.5)
            let i0 = Int(source)
            lower.append(i0); upper.append(i0 < inputSide - 1 ? i0 + 1 : i0)
            weight.append(min(max(source - Float(i0), 0), 1))
        }
        self.lower = lower; self.upper = upper; self.weight = weight
    }

    /// Resizes `image` ([in, in]) into `output` ([out, out]) as 2 * bilinear - 1.
    func apply(_ image: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let n = inputSide
        for i in 0..<outputSide {
            let r0 = image + lower[i] * n, r1 = image + upper[i] * n
            let h1 = weight[i], h0 = 1 - h1
            for j in 0..<outputSide {
                let (c0, c1, w1) = (lower[j], upper[j], weight[j])
                let w0 = 1 - w1
                let top = r0[c0] * w0 + r0[c1] * w1, bottom = r1[c0] * w0 + r1[c1] * w1
                output[i * outputSide + j] = 2 * (top * h0 + bottom * h1) - 1
            }
        }
    }
}
