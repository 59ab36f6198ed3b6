import Core
import Testing

@Suite struct RefusalLogTests {
    @Test func eachPeerIsLoggedOncePerIntervalAndEveryRefusalCounted() {
        var log = RefusalLog(interval: .seconds(60))
        let t0 = ContinuousClock.now
        #expect(log.onRefused(peer: "10.0.0.9", reason: "unknown key", now: t0) == 0)
        for second in 1...59 {
            #expect(log.onRefused(peer: "10.0.0.9", reason: "unknown key", now: t0 + .seconds(second)) == nil)
        }
        #expect(log.onRefused(peer: "10.0.0.8", reason: "no key", now: t0 + .seconds(1)) == 0, "another peer has its own minute")
        #expect(log.onRefused(peer: "10.0.0.9", reason: "unknown key", now: t0 + .seconds(60)) == 59, "the next line says how many went unlogged")
        #expect(log.total == 62)
        #expect(log.byReason == ["unknown key": 61, "no key": 1])
    }

    @Test func aFloodFromManyAddressesKeepsMemoryBounded() {
        var log = RefusalLog(interval: .seconds(60), maxPeers: 8)
        let t0 = ContinuousClock.now
        for index in 0..<100 { _ = log.onRefused(peer: "10.0.\(index / 256).\(index % 256)", reason: "no key", now: t0) }
        #expect(log.total == 100)
        // Still logs a new address (the oldest remembered one was forgotten to make room).
        #expect(log.onRefused(peer: "192.0.2.1", reason: "no key", now: t0) == 0)
    }
}
