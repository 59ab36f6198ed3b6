import Foundation

/// What the machine is and how busy other tenants kept it: on a shared machine a figure means
/// little without the load it was measured under.
struct MachineLoad {
    /// The CPU model from /proc/cpuinfo, or "unknown CPU".
    static func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return "unknown CPU"
    }

    static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// The 1-minute load average.
    static func loadAverage() -> Double {
        var loads = [Double](repeating: 0, count: 3)
        return getloadavg(&loads, 3) >= 1 ? loads[0] : .nan
    }

    private let machineBusy: Double
    private let ours: Double
    private let start = ContinuousClock.now

    /// Starts measuring.
    init() {
        machineBusy = Self.machineBusySeconds()
        ours = Self.ourCPUSeconds()
    }

    /// Cores kept busy by other processes since `init`, on average: all CPU time the machine
    /// spent, minus this process's and its reaped children's, per wall second. Call it after the
    /// rank processes have exited, or their CPU time counts as someone else's.
    func otherCores() -> Double {
        let wall = start.duration(to: .now).inSeconds
        let others = (Self.machineBusySeconds() - machineBusy) - (Self.ourCPUSeconds() - ours)
        return wall > 0 ? max(0, others / wall) : .nan
    }

    /// Busy CPU seconds of the whole machine so far (all cores): the first line of /proc/stat
    /// without idle and iowait.
    private static func machineBusySeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first else { return .nan }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 8 else { return .nan }
        let busy = ticks[0..<8].reduce(0, +) - ticks[3] - ticks[4]
        return busy / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private static func ourCPUSeconds() -> Double {
        func seconds(_ who: Int32) -> Double {
            var usage = rusage()
            getrusage(__rusage_who_t(who), &usage)
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
                + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
        }
        return seconds(RUSAGE_SELF.rawValue) + seconds(RUSAGE_CHILDREN.rawValue)
    }
}
