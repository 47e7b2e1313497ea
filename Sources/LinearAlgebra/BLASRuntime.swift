import COpenBLAS
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Process-wide OpenBLAS settings: thread count and kernel selection.
public enum BLASRuntime {
    /// The number of threads OpenBLAS uses for one call, and our own parallel loops use (`Parallel`). Inside a
    /// `withSerialCalls` scope OpenBLAS runs single-threaded, but this stays the program's thread count: reading
    /// it gives the count the scope will restore, and setting it changes that count.
    public static var threadCount: Int {
        get { serialScope.withLock { $0.depth > 0 ? $0.threads : liveThreadCount } }
        set {
            precondition(newValue >= 1, "BLAS thread count must be >= 1, got \(newValue)")
            serialScope.withLock { state in
                if state.depth > 0 { state.threads = newValue } else { openblas_set_num_threads(Int32(newValue)) }
            }
        }
    }

    /// The thread count OpenBLAS itself is set to (1 inside a `withSerialCalls` scope).
    static var liveThreadCount: Int { Int(openblas_get_num_threads()) }

    /// Nesting depth of `withSerialCalls` scopes and the thread count they will restore.
    private static let serialScope = Mutex<(depth: Int, threads: Int)>((0, 0))

    /// Runs `body` with OpenBLAS limited to one thread per call (each call computes on its calling thread) and
    /// passes it the program's thread count, for the caller's own parallel loop; restores OpenBLAS's count
    /// afterwards. Nested and concurrent scopes are counted: the first one in sets 1, the last one out restores
    /// (`threadCount` set meanwhile is what it restores).
    ///
    /// Why: OpenBLAS's threading partitions a product by the thread count, and the partition changes the rounding
    /// of some entries (e.g. `dgemm` with n = 200 split into two column ranges of 100 computes columns 96...99 with
    /// its edge kernel), so a threaded call gives different bits with 1 and 2 threads. Single-threaded calls on
    /// blocks fixed by the data, spread over the caller's own workers, give the same bits on any thread count.
    /// Concurrent single-threaded calls are safe in OpenBLAS's pthreads build (its buffer allocation is locked).
    /// The setting is process-wide: BLAS calls that other threads make during the scope also run single-threaded
    /// (and so may round differently from a threaded call); the executables make none.
    public static func withSerialCalls<T>(_ body: (_ threads: Int) throws -> T) rethrows -> T {
        let threads = serialScope.withLock { state -> Int in
            if state.depth == 0 {
                state.threads = liveThreadCount
                if state.threads > 1 { openblas_set_num_threads(1) }
            }
            state.depth += 1
            return state.threads
        }
        defer {
            serialScope.withLock { state in
                state.depth -= 1
                if state.depth == 0 && state.threads > 1 { openblas_set_num_threads(Int32(state.threads)) }
            }
        }
        return try body(threads)
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
