import Foundation

/// A warning that this machine is about to be taken away: who said so, by when the worker must be
/// gone, and what the source said in its own words.
///
/// The deadline is an instant on the monotonic clock, so that a wall-clock jump (NTP, a suspended
/// VM) cannot stretch or shrink the drain. Cloud sources announce wall-clock times; they are
/// converted once, when the notice is read, against the wall clock of that moment.
public struct PreemptionNotice: Sendable, Equatable, CustomStringConvertible {
    /// Where a notice came from.
    public enum Source: String, Sendable, CaseIterable {
        /// SIGTERM sent to the process (Kubernetes, systemd, a spot agent, an operator).
        case signal
        /// EC2 spot instance-action in the instance metadata service.
        case aws
        /// Compute Engine's `instance/preempted` metadata value.
        case gcp
        /// An Azure Scheduled Events `Preempt` event.
        case azure
    }

    public var source: Source
    /// When the machine is expected to go away; the worker should have left by then.
    public var deadline: ContinuousClock.Instant
    /// The source's own words (action, event id, announced time), for logs and the coordinator.
    public var detail: String
    /// The id the source wants back once the worker is ready to go (Azure's `EventId`); nil for
    /// sources that take no acknowledgement.
    public var eventID: String?

    public init(source: Source, deadline: ContinuousClock.Instant, detail: String, eventID: String? = nil) {
        self.source = source
        self.deadline = deadline
        self.detail = detail
        self.eventID = eventID
    }

    /// A notice whose deadline is `seconds` after `now`; negative values are clamped to `now`
    /// (an announced time already in the past means "leave at once").
    public init(source: Source, secondsFromNow seconds: Double, now: ContinuousClock.Instant = .now,
                detail: String, eventID: String? = nil) {
        let clamped = seconds.isFinite ? max(0, seconds) : 0
        self.init(source: source, deadline: now + .milliseconds(Int64((clamped * 1000).rounded())),
                  detail: detail, eventID: eventID)
    }

    /// Seconds left until the deadline, never negative.
    public func secondsLeft(now: ContinuousClock.Instant = .now) -> Double {
        max(0, now.duration(to: deadline).inSeconds)
    }

    public var description: String {
        "\(source.rawValue) preemption notice, \(String(format: "%.1f", secondsLeft())) s left: \(detail)"
    }
}
