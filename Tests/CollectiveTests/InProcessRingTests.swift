import Testing
@testable import Collective

@Suite struct InProcessRingTests {
    @Test func passesTheLinkContract() {
        let failures = CollectiveLinkContract.run(makeRing: { InProcessRing.make(worldSize: $0) }, worldSizes: [1, 2, 3, 5])
        #expect(failures == [])
    }

    @Test func aRingOfOneDeliversToItself() throws {
        let link = InProcessRing.make(worldSize: 1)[0]
        try link.send([1, 2])
        try link.send([])
        #expect(try link.receive(until: .now + .seconds(1)) == [1, 2])
        #expect(try link.receive(until: .now + .seconds(1)) == [])
    }

    @Test func framesQueuedBeforeAMemberDiesAreStillDelivered() throws {
        let links = InProcessRing.make(worldSize: 2)
        try links[0].send([7])
        links[0].close()
        #expect(try links[1].receive(until: .now + .seconds(1)) == [7])
        #expect(throws: CollectiveError.closed(reason: "rank 0 closed its link")) { try links[1].receive(until: .now + .seconds(1)) }
        #expect(throws: CollectiveError.closed(reason: "rank 0 closed its link")) { try links[1].send([1]) }
    }

    /// The contract itself must be able to fail: a link that reorders frames is caught.
    @Test func theContractCatchesALinkThatReordersFrames() {
        let failures = CollectiveLinkContract.checkFIFO(makeRing: { n in
            InProcessRing.make(worldSize: n).map { SwappingLink(base: $0) }
        }, worldSize: 2)
        #expect(!failures.isEmpty)
    }

    @Test func theContractCatchesALinkThatIgnoresDeadlines() {
        let failures = CollectiveLinkContract.checkTimeout(makeRing: { n in
            InProcessRing.make(worldSize: n).map { EarlyLink(base: $0) }
        }, worldSize: 2, timeout: .milliseconds(300), tolerance: .seconds(1))
        #expect(failures.contains { $0.contains("before the") })
    }
}

/// Swaps every pair of frames it sends.
final class SwappingLink: ClosableRingLink {
    let base: InProcessRingLink
    private let held = HeldFrame()
    var rank: Int { base.rank }
    var worldSize: Int { base.worldSize }
    init(base: InProcessRingLink) { self.base = base }

    func send(_ frame: [UInt8]) throws(CollectiveError) {
        if let previous = held.swap(frame) {
            try base.send(frame)
            try base.send(previous)
        }
    }

    func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] { try base.receive(until: deadline) }
    func close() { base.close() }
}

/// Gives up at half the deadline.
final class EarlyLink: ClosableRingLink {
    let base: InProcessRingLink
    var rank: Int { base.rank }
    var worldSize: Int { base.worldSize }
    init(base: InProcessRingLink) { self.base = base }
    func send(_ frame: [UInt8]) throws(CollectiveError) { try base.send(frame) }
    func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] {
        try base.receive(until: .now + (deadline - .now) / 2)
    }
    func close() { base.close() }
}

import Synchronization

/// Holds one frame between calls: returns the held frame and keeps the new one, or keeps the
/// new one and returns nil.
final class HeldFrame: Sendable {
    private let frame = Mutex<[UInt8]?>(nil)
    func swap(_ new: [UInt8]) -> [UInt8]? {
        frame.withLock { held in
            if let previous = held {
                held = nil
                return previous
            }
            held = new
            return nil
        }
    }
}
