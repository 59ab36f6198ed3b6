/// A byte-rate limit: `rate` bytes per second on average, bursts of up to `burst` bytes.
///
/// A value with no clock of its own: the caller passes `now`. `reserve` never refuses a send; it
/// says when the send may go, and charges the bucket at once, so sends queued behind one another
/// go out in order at the rate (the bucket runs into debt, and later sends wait out the debt).
/// A reservation larger than the burst is allowed and simply waits longer: a file bigger than the
/// burst still goes, at the rate.
public struct TokenBucket: Sendable, Equatable {
    /// Bytes per second, > 0.
    public let rate: Double
    /// The most bytes that may go at once after an idle spell, > 0.
    public let burst: Double
    /// Bytes that may go now; negative while sends wait out an earlier debt.
    public private(set) var tokens: Double
    private var updated: ContinuousClock.Instant

    public init(rate: Double, burst: Double, now: ContinuousClock.Instant) {
        precondition(rate > 0 && rate.isFinite && burst > 0 && burst.isFinite, "a token bucket needs a finite positive rate and burst")
        self.rate = rate
        self.burst = burst
        tokens = burst
        updated = now
    }

    /// Charges `bytes` and returns the instant at which they may be sent (`now` or later).
    public mutating func reserve(_ bytes: Int, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        refill(now: now)
        tokens -= Double(bytes)
        guard tokens < 0 else { return now }
        return now + .seconds(-tokens / rate)
    }

    /// Whether the bucket is full (the peer has been idle long enough to forget).
    public mutating func isIdle(now: ContinuousClock.Instant) -> Bool {
        refill(now: now)
        return tokens >= burst
    }

    private mutating func refill(now: ContinuousClock.Instant) {
        guard now > updated else { return }
        tokens = min(burst, tokens + updated.duration(to: now).inSeconds * rate)
        updated = now
    }
}
