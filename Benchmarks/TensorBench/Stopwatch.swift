#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time, the calling thread's CPU time and the whole process's CPU time of a piece of
/// work.
///
/// The benchmark machine is shared, so wall time alone mixes our speed with other processes'
/// load. Work that runs on the calling thread is best compared by that thread's CPU time: the
/// process's CPU time also counts helper threads that spin between calls (OpenBLAS's do).
struct Stopwatch {
    var wall: Double
    /// CPU time of the calling thread.
    var cpu: Double
    /// CPU time of every thread of the process.
    var processCPU: Double = 0

    static func now() -> Stopwatch {
        var wall = timespec(), thread = timespec(), process = timespec()
        clock_gettime(CLOCK_MONOTONIC, &wall)
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &thread)
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &process)
        func seconds(_ t: timespec) -> Double { Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
        return Stopwatch(wall: seconds(wall), cpu: seconds(thread), processCPU: seconds(process))
    }

    static func - (a: Stopwatch, b: Stopwatch) -> Stopwatch {
        Stopwatch(wall: a.wall - b.wall, cpu: a.cpu - b.cpu, processCPU: a.processCPU - b.processCPU)
    }

    /// Seconds of wall and CPU time spent in `body`.
    static func measure(_ body: () -> Void) -> Stopwatch {
        let start = now()
        body()
        return now() - start
    }
}
