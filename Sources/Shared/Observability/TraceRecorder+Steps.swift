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

/// One span a worker recorded itself, timed from the moment it received its lease.
public struct WorkerSpan: Sendable, Equatable {
    public var name: String
    /// The viewer's filter key: data, compute, allreduce, optimizer, report.
    public var category: String
    /// Seconds from the lease's arrival to the span's start, and the span's length.
    public var offset: Double
    public var seconds: Double
    public var args: [String: TraceArgument]

    public init(name: String, category: String, offset: Double, seconds: Double, args: [String: TraceArgument] = [:]) {
        self.name = name; self.category = category; self.offset = offset; self.seconds = seconds; self.args = args
    }
}

extension TraceRecorder {
    /// Records the spans a worker timed itself for one step on its lane, under a parent span
    /// "step <n>" that covers them all.
    ///
    /// The worker's clock is not the coordinator's: offsets are placed from `leaseSent`, the
    /// instant the coordinator sent this worker its lease, so every lane of a step starts where
    /// its lease went out and a straggler's spans visibly run past the others'. The lease's
    /// network delay shifts them by microseconds on one machine.
    ///
    /// - Parameters:
    ///   - spans: negative or non-finite offsets and lengths count as 0.
    public func workerSpans(_ step: Int, worker: WorkerID, generation: UInt64, leaseSent: ContinuousClock.Instant,
                            spans: [WorkerSpan]) {
        guard isEnabled else { return }
        let track = TraceTrack.worker(worker)
        func instant(_ seconds: Double) -> ContinuousClock.Instant {
            leaseSent + .nanoseconds(Int64((max(0, seconds.isFinite ? seconds : 0) * 1e9).rounded()))
        }
        var last = leaseSent
        for span in spans {
            let start = instant(span.offset)
            let end = instant(max(0, span.offset) + max(0, span.seconds.isFinite ? span.seconds : 0))
            var args = span.args
            args["step"] = .int(step)
            self.span(name: span.name, category: span.category, track: track, start: start, end: end, args: args)
            last = max(last, end)
        }
        span(name: "step \(step)", category: "step", track: track, start: leaseSent, end: last,
             args: ["step": .int(step), "generation": .int(Int(generation))])
    }
}
