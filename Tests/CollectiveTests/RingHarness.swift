import Core
@testable import Collective

/// Runs one all-reduce on an in-process ring: member `assignment[m]` gets micro-batch `m`.
func reduceOnRing(
    _ reference: ReduceReference, worldSize n: Int, settings: AllReduceSettings, assignment: [Int]? = nil,
    lossScale: Float = 1, wrap: @escaping @Sendable (any RingLink) -> any RingLink = { $0 }
) -> [Result<ReduceOutcome, CollectiveError>] {
    let links = InProcessRing.make(worldSize: n)
    defer { links.forEach { $0.close() } }
    let assignment = assignment ?? (0..<reference.microBatches.count).map { $0 % n }
    let shares = reference.deal(assignment, worldSize: n)
    let results = RingThreads.run(n) { rank -> Result<ReduceOutcome, CollectiveError> in
        do throws(CollectiveError) {
            let reducer = try! RingAllReduce(link: wrap(links[rank]), settings: settings)
            return .success(try reducer.sum(
                microBatches: shares[rank], count: reference.count, totalMicroBatches: reference.microBatches.count,
                lossScale: lossScale))
        } catch {
            return .failure(error)
        }
    }
    return results
}

/// The outcomes if every member succeeded, else nil.
func outcomes(_ results: [Result<ReduceOutcome, CollectiveError>]) -> [ReduceOutcome]? {
    let values = results.compactMap { try? $0.get() }
    return values.count == results.count ? values : nil
}

/// A link that behaves like its base until it has sent `sendsBeforeDeath` frames, then closes the
/// base and throws: a member that dies in the middle of a collective.
final class DyingLink: RingLink {
    let base: InProcessRingLink
    let sendsBeforeDeath: Int
    private let sent = Counter()
    var rank: Int { base.rank }
    var worldSize: Int { base.worldSize }

    init(base: InProcessRingLink, sendsBeforeDeath: Int) {
        self.base = base
        self.sendsBeforeDeath = sendsBeforeDeath
    }

    func send(_ frame: [UInt8]) throws(CollectiveError) {
        if sent.increment() > sendsBeforeDeath {
            base.close()
            throw .closed(reason: "test member died")
        }
        try base.send(frame)
    }

    func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] {
        try base.receive(until: deadline)
    }
}

/// A link that flips one bit at byte `offset` of the `index`-th frame it sends that is long enough.
final class CorruptingLink: RingLink {
    let base: any RingLink
    let index: Int
    let offset: Int
    private let sent = Counter()
    var rank: Int { base.rank }
    var worldSize: Int { base.worldSize }

    init(base: any RingLink, index: Int, offset: Int) {
        self.base = base
        self.index = index
        self.offset = offset
    }

    func send(_ frame: [UInt8]) throws(CollectiveError) {
        var frame = frame
        if frame.count > offset && sent.increment() == index + 1 { frame[offset] ^= 0x10 }
        try base.send(frame)
    }

    func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] {
        try base.receive(until: deadline)
    }
}

import Synchronization

/// A thread-safe counter for the link doubles.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    /// Adds one and returns the new value.
    func increment() -> Int { value.add(1, ordering: .relaxed).newValue }
}
