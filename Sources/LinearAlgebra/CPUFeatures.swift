#if canImport(Glibc)
import Glibc
#endif

/// CPU feature flags as the Linux kernel reports them in /proc/cpuinfo. The kernel lists the avx512
/// flags only when it has also enabled the ZMM register state, so a listed flag is usable.
enum CPUFeatures {
    /// F, CD, BW, DQ and VL: the AVX-512 subsets OpenBLAS's SkylakeX kernels need.
    static var hasSkylakeXSubset: Bool {
        ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy { flags.contains($0) }
    }

    static let flags: Set<String> = {
        guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("flags") else { continue }
            return Set(text.split(whereSeparator: { " \t\n:".contains($0) }).map(String.init))
        }
        return []
    }()
}
