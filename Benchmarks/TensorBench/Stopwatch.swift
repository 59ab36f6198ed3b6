#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock and process CPU time of a piece of work.
///
/// The benchmark machine is shared, so wall time alone mixes our speed with other processes'
/// load; single-thread CPU time is the steadier figure to compare implementations by.
struct Stopwatch {
    var wall: Double
    var cpu: Double

    static func now() -> Stopwatch {
        var wall = timespec(), cpu = timespec()
        clock_gettime(CLOCK_MONOTONIC, &wall)
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu)
        return Stopwatch(wall: Double(wall.tv_sec) + Double(wall.tv_nsec) * 1e-9,
                         cpu: Double(cpu.tv_sec) + Double(cpu.tv_nsec) * 1e-9)
    }

    static func - (a: Stopwatch, b: Stopwatch) -> Stopwatch { Stopwatch(wall: a.wall - b.wall, cpu: a.cpu - b.cpu) }

    /// Seconds of wall and CPU time spent in `body`.
    static func measure(_ body: () -> Void) -> Stopwatch {
        let start = now()
        body()
        return now() - start
    }
}
