import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Process-wide OpenBLAS settings: thread count and kernel selection.
public enum BLASRuntime {
    /// The number of threads OpenBLAS uses for one call.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set {
            precondition(newValue >= 1, "BLAS thread count must be >= 1, got \(newValue)")
            openblas_set_num_threads(Int32(newValue))
        }
    }

    /// The name of the kernel family OpenBLAS picked at load time (e.g. "Haswell", "SkylakeX").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Whether the CPU (and OS) support the AVX-512 subsets OpenBLAS's SkylakeX kernels use
    /// (F, CD, BW, DQ, VL), read from cpuid.
    public static var cpuHasAVX512: Bool { CPUFeatures.hasSkylakeXSubset }

    /// Makes sure this process runs with OpenBLAS's AVX-512 kernels where the CPU has them.
    ///
    /// Debian's OpenBLAS 0.3.21 does not recognise recent CPUs with AVX-512 (e.g. AMD Zen 4) and falls
    /// back to its Haswell kernels at half the speed. It reads `OPENBLAS_CORETYPE` only when the library
    /// loads, before `main` runs, so the only robust fix is to set it and re-execute the program once.
    /// Does nothing when the variable is already set (the user's choice wins, and it prevents a loop),
    /// when the CPU lacks AVX-512, or when `VAE_NO_REEXEC` is set. Call first thing in `main`.
    public static func selectFastKernels(arguments: [String] = CommandLine.arguments) {
        guard getenv("OPENBLAS_CORETYPE") == nil, getenv("VAE_NO_REEXEC") == nil, cpuHasAVX512 else { return }
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        cArguments.append(nil)
        execv("/proc/self/exe", &cArguments)
        // execv returned: it failed. Carry on with the kernels already loaded.
        for pointer in cArguments { free(pointer) }
    }
}
