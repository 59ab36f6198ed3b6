import Foundation

/// One cloud's way of asking "is this machine about to be taken?", one question per call.
///
/// A probe holds what must survive between polls (a session token, an ETag) and is driven by a
/// `PollingWatcher` on one thread. The clocks are arguments so that tests can move time (token
/// expiry) without waiting for it.
public protocol PreemptionProbe: Sendable {
    var source: PreemptionNotice.Source { get }

    /// Asks once. Returns the notice if there is one, nil if there is none; throws when the answer
    /// could not be had or not be read (the watcher reports it and asks again next time).
    ///
    /// - Parameters:
    ///   - now: the monotonic clock, used for deadlines and token lifetimes.
    ///   - wallClock: the wall clock at the same moment, to turn announced times into deadlines.
    ///   - report: problems that did not stop this poll (a failed side lookup).
    mutating func check(now: ContinuousClock.Instant, wallClock: Date,
                        report: (PreemptionError) -> Void) throws(PreemptionError) -> PreemptionNotice?
}
