import Collective
import Core
import Foundation
import Observability
import Wire

/// A worker's own timeline of one step: spans timed from the moment it received the lease, sent
/// with the step result when the run records a timeline (`logging.timeline`).
///
/// Only created when the timeline is on: a worker without one takes no timestamps beyond the
/// phase totals it always reports. A class because the all-reduce's observer appends to it, from
/// the ring's thread when the sum overlaps the backward pass (hence the lock).
final class StepTimeline: @unchecked Sendable {
    let leaseReceived: ContinuousClock.Instant
    private let lock = NSLock()
    private var recorded: [Wire.Span] = []

    init(leaseReceived: ContinuousClock.Instant) {
        self.leaseReceived = leaseReceived
        recorded.reserveCapacity(64)
    }

    var spans: [Wire.Span] { lock.withLock { recorded } }

    func record(_ phase: Wire.SpanPhase, index: Int = 0, start: ContinuousClock.Instant, end: ContinuousClock.Instant) {
        let span = Wire.Span(phase: phase, index: UInt32(clamping: index), startNanos: nanos(leaseReceived, start),
                             durationNanos: nanos(start, end))
        lock.withLock {
            guard recorded.count < Wire.maxSpans else { return }
            recorded.append(span)
        }
    }

    /// Records one part of the all-reduce as it ends.
    func record(_ event: RingAllReduce.Event) {
        switch event {
        case .encode(let start, let end): record(.encode, start: start, end: end)
        case .decode(let start, let end): record(.decode, start: start, end: end)
        case .transfer(let t):
            let phase: Wire.SpanPhase = switch (t.exponents, t.phase) {
            case (true, .reduceScatter): .exponentReduceScatter
            case (true, .allGather): .exponentAllGather
            case (false, .reduceScatter): .reduceScatter
            case (false, .allGather): .allGather
            }
            record(phase, index: t.step, start: t.start, end: t.end)
        }
    }
}

extension Wire.SpanPhase {
    /// The timeline's filter key for spans of this phase.
    var traceCategory: String {
        switch self {
        case .dataWait: "data"
        case .forward, .backward: "compute"
        case .encode, .exponentReduceScatter, .exponentAllGather, .reduceScatter, .allGather, .decode: "allreduce"
        case .optimizer: "optimizer"
        case .report: "report"
        }
    }

    /// Whether `index` numbers a micro-batch or a ring step (and is worth showing).
    var hasIndex: Bool {
        switch self {
        case .dataWait, .forward, .backward, .exponentReduceScatter, .exponentAllGather, .reduceScatter, .allGather: true
        case .encode, .decode, .optimizer, .report: false
        }
    }
}

extension Wire.Span {
    /// The span as the coordinator's timeline draws it.
    var traceSpan: WorkerSpan {
        let key = phase == .dataWait || phase == .forward || phase == .backward ? "micro_batch" : "ring_step"
        return WorkerSpan(name: phase.name, category: phase.traceCategory, offset: Double(startNanos) / 1e9,
                          seconds: Double(durationNanos) / 1e9, args: phase.hasIndex ? [key: .int(Int(index))] : [:])
    }
}
