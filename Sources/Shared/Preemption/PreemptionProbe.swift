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

/// Date formats the clouds use, parsed with a fixed POSIX locale so that the machine's locale
/// cannot change what a timestamp means.
enum CloudTime {
    /// `2026-11-26T17:00:00Z` (AWS `instance-action.time`), with or without fractional seconds.
    static func iso8601(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }

    /// `Mon, 19 Sep 2016 18:29:47 GMT` (RFC 1123, Azure `NotBefore`).
    static func rfc1123(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    /// Seconds from `wallClock` to `date` added to `now`: the monotonic instant of `date`.
    static func seconds(until date: Date, wallClock: Date) -> Double {
        date.timeIntervalSince(wallClock)
    }
}
