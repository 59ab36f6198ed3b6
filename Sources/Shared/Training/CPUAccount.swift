import Foundation

/// The CPU time of one run: this process's user and system time since the account was opened,
/// plus the CPU time of the local workers it reaped (`LocalWorkers.cpuSeconds`).
///
/// A baseline rather than the process's whole `RUSAGE_SELF`: a coordinator `exec`'d by the shell
/// that ran `swift build` inherits that shell's counters, and `RUSAGE_CHILDREN` then bills the
/// whole build to training. Workers started by hand on other machines are not included.
public struct CPUAccount: Sendable {
    /// This process's CPU seconds when the account was opened.
    public let baseline: Double

    public init() { baseline = Self.processSeconds() }

    /// CPU seconds of this process since `init`, plus `children` (the local workers' own).
    public func seconds(plusChildren children: Double) -> Double {
        max(0, Self.processSeconds() - baseline) + children
    }

    /// User plus system CPU seconds of this process so far (`RUSAGE_SELF`).
    public static func processSeconds() -> Double {
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
