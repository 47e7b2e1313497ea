import COpenBLAS
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Process-wide BLAS settings: the worker-thread count and OpenBLAS's kernel selection.
///
/// OpenBLAS itself always runs one thread per call. Products large enough to share are cut by `BLAS.gemm` into
/// blocks fixed by their shape (never by the thread count) and the blocks are spread over `threadCount` workers,
/// the same workers our element-wise loops use (`Parallel`). Why:
/// - one pool: OpenBLAS's own threads spin in `sched_yield` between calls and fight our workers for the cores
///   (measured: 14% of the conv VAE's samples in the scheduler, 20% of the CPU time of the MLP's epoch);
/// - determinism: OpenBLAS's threading partitions a product by the thread count, and the partition changes the
///   rounding of some entries (e.g. `dgemm` with n = 200 split into two column ranges of 100 computes columns
///   96...99 with its edge kernel); blocks fixed by the shape give the same bits on any thread count.
/// Concurrent single-threaded calls are safe in OpenBLAS's pthreads build (its buffer allocation is locked).
public enum BLASRuntime {
    /// The number of workers that BLAS products and our parallel loops use (initially OpenBLAS's own default:
    /// `OPENBLAS_NUM_THREADS`, else the number of cores).
    public static var threadCount: Int {
        get { workers.load(ordering: .relaxed) }
        set {
            precondition(newValue >= 1, "BLAS thread count must be >= 1, got \(newValue)")
            workers.store(newValue, ordering: .relaxed)
        }
    }

    /// Reads OpenBLAS's default thread count, then sets OpenBLAS to one thread per call; runs once.
    private static let workers: Atomic<Int> = {
        let initial = max(1, Int(openblas_get_num_threads()))
        openblas_set_num_threads(1)
        return Atomic(initial)
    }()

    /// Makes sure OpenBLAS runs one thread per call. Every wrapper around an OpenBLAS routine calls it first.
    @inline(__always)
    static func prepare() { _ = workers.load(ordering: .relaxed) }

    /// The thread count OpenBLAS itself is set to: 1 once any wrapper has run.
    static var liveThreadCount: Int { Int(openblas_get_num_threads()) }

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
