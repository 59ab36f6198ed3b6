import Foundation

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
