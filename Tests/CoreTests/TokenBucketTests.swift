import Core
import Testing

/// The per-worker rate limit of the sample server, on a manual clock.
@Suite struct TokenBucketTests {
    let start = ContinuousClock.now

    @Test func aBurstGoesAtOnceAndTheRestAtTheRate() {
        var bucket = TokenBucket(rate: 1000, burst: 500, now: start)
        #expect(bucket.reserve(500, now: start) == start, "the burst is free")
        // 1000 more bytes at 1000 B/s: the last of them may go one second later.
        #expect(bucket.reserve(1000, now: start) == start + .seconds(1))
        // Queued behind that debt: half a second more.
        #expect(bucket.reserve(500, now: start) == start + .milliseconds(1500))
    }

    @Test func idleTimeRefillsUpToTheBurstOnly() {
        var bucket = TokenBucket(rate: 100, burst: 200, now: start)
        _ = bucket.reserve(200, now: start)
        let idleAfterHalfASecond = bucket.isIdle(now: start + .milliseconds(500))
        #expect(!idleAfterHalfASecond)
        // An hour idle gives back the burst, not 360,000 bytes.
        let later = start + .seconds(3600)
        let idleAfterAnHour = bucket.isIdle(now: later)
        #expect(idleAfterAnHour)
        #expect(bucket.reserve(200, now: later) == later)
        #expect(bucket.reserve(100, now: later) == later + .seconds(1))
    }

    @Test func aReservationLargerThanTheBurstWaitsInsteadOfFailing() {
        var bucket = TokenBucket(rate: 1_048_576, burst: 1024, now: start)
        let due = bucket.reserve(1024 + (4 << 20), now: start)
        #expect(due == start + .seconds(4), "4 MiB over the burst at 1 MiB/s")
    }

    @Test func averageRateOverManySendsIsTheRate() {
        var bucket = TokenBucket(rate: 10_000, burst: 1_000, now: start)
        var due = start
        for _ in 0..<100 { due = bucket.reserve(1_000, now: start) }
        // 100 kB with a 1 kB burst at 10 kB/s: 9.9 s.
        #expect(abs(start.duration(to: due).inSeconds - 9.9) < 1e-9)
    }
}
