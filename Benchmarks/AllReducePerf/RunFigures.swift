/// The figures of one run, as nccl-tests defines them.
///
/// An iteration takes as long as its slowest rank, so each iteration's time is the maximum over
/// ranks; the run's time is the median of those. `algbw = bytes / time`; `busbw = algbw ·
/// 2 (N - 1) / N`, the bytes every link carries per second in a ring all-reduce, which makes
/// figures for different N comparable with each other and with a link's bandwidth.
struct RunFigures {
    let run: PerfRun
    let worldSize: Int
    /// Per measured iteration, the slowest rank's seconds.
    let iterationSeconds: [Double]

    /// - Parameter times: `times[rank][iteration]`; every rank measured the same iterations.
    init(run: PerfRun, worldSize: Int, times: [[Double]]) {
        self.run = run
        self.worldSize = worldSize
        let iterations = times.map(\.count).min() ?? 0
        iterationSeconds = (0..<iterations).map { i in times.map { $0[i] }.max()! }
    }

    var medianSeconds: Double { Statistics.median(iterationSeconds.sorted()) }
    var minimumSeconds: Double { iterationSeconds.min() ?? .nan }
    /// Bytes per second of vector.
    var algorithmBandwidth: Double { Double(run.bytes) / medianSeconds }
    /// Bytes per second on every link.
    var busBandwidth: Double { algorithmBandwidth * Double(2 * (worldSize - 1)) / Double(worldSize) }
}

enum Statistics {
    /// The median of an ascending array (NaN when empty).
    static func median(_ sorted: [Double]) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
