import Core

extension TraceRecorder {
    /// Records one worker's part of a step as back-to-back spans from `start`, one per phase, in
    /// the order given (e.g. data, compute, all-reduce), under a parent span named
    /// "step <n>".
    ///
    /// Workers report how long each phase took, not when it began, so the coordinator lays the
    /// phases out from the moment it dealt the lease: the lanes show where time went within a
    /// step, shifted by the lease's network delay (microseconds on one machine).
    ///
    /// - Parameters:
    ///   - phases: phase names and their durations in seconds; negative durations count as 0.
    public func workerStep(_ step: Int, worker: WorkerID, generation: UInt64, start: ContinuousClock.Instant,
                           phases: [(name: String, seconds: Double)]) {
        guard isEnabled else { return }
        let track = TraceTrack.worker(worker)
        var cursor = start
        for (name, seconds) in phases {
            let end = cursor + .nanoseconds(Int64((max(0, seconds.isFinite ? seconds : 0) * 1e9).rounded()))
            span(name: name, category: name, track: track, start: cursor, end: end, args: ["step": .int(step)])
            cursor = end
        }
        span(name: "step \(step)", category: "step", track: track, start: start, end: cursor,
             args: ["step": .int(step), "generation": .int(Int(generation))])
    }
}
