#if canImport(Glibc)
import Glibc
#endif

/// How freed memory is handled by the C allocator of the process.
///
/// A training step allocates the same tensors (0.1-10 MB each) on every step and frees them at its
/// end, and libzmq allocates every received ring frame (1 MiB by default) and frees it once the
/// all-reduce has read it. With glibc's defaults, blocks that size are mapped fresh and returned
/// to the kernel when freed (or the heap top is trimmed), so every step page-faults its whole
/// working set in again: about a sixth of a CanopyNet step on a 2-core VM, and a quarter of the
/// time of a 16 MiB all-reduce. Keeping freed memory in the process lets the next step reuse the
/// same pages. The memory kept is bounded by the peak working set of a step.
public enum AllocatorPolicy {
    /// Raises glibc's mmap threshold to its maximum (32 MiB on 64-bit) and its trim threshold to
    /// 1 GiB, once per process. Returns whether both settings were applied; a no-op (false) on a
    /// C library without `mallopt`.
    @discardableResult
    public static func retainFreedMemory() -> Bool { applied }

    private static let applied: Bool = {
        #if canImport(Glibc)
        // mallopt is declared in <malloc.h>, which the Glibc module does not include.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3   // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
        let mapped = mallopt(mmapThreshold, 32 << 20)
        let trimmed = mallopt(trimThreshold, 1 << 30)
        return mapped == 1 && trimmed == 1
        #else
        return false
        #endif
    }()
}
