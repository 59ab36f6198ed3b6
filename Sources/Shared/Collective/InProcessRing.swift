import Synchronization

/// Ring links between threads of one process: the fake transport for tests and benchmarks. It
/// passes the same `CollectiveLinkContract` as the ZeroMQ links.
public enum InProcessRing {
    /// `worldSize` connected links; link `r` has rank `r`, sends to `r + 1` and receives from
    /// `r - 1` (modulo `worldSize`). A ring of one sends to itself.
    public static func make(worldSize: Int) -> [InProcessRingLink] {
        precondition(worldSize >= 1, "a ring needs at least one member, got worldSize \(worldSize)")
        // queues[r] carries frames from rank r to rank r + 1.
        let queues = (0..<worldSize).map { _ in FrameQueue() }
        return (0..<worldSize).map { rank in
            InProcessRingLink(
                rank: rank, worldSize: worldSize,
                inbound: queues[(rank - 1 + worldSize) % worldSize], outbound: queues[rank])
        }
    }
}

/// One member's link of an `InProcessRing`.
///
/// `close()` simulates the member dying: its own calls throw `.closed`, the next rank receives
/// what was already queued and then `.closed`, and the previous rank's sends throw `.closed`.
public final class InProcessRingLink: ClosableRingLink {
    public let rank: Int
    public let worldSize: Int
    private let inbound: FrameQueue
    private let outbound: FrameQueue
    private let closedHere = Atomic<Bool>(false)
    private let dropped = Atomic<Int>(0)

    init(rank: Int, worldSize: Int, inbound: FrameQueue, outbound: FrameQueue) {
        self.rank = rank
        self.worldSize = worldSize
        self.inbound = inbound
        self.outbound = outbound
    }

    public func send(_ frame: [UInt8]) throws(CollectiveError) {
        if closedHere.load(ordering: .acquiring) { throw .closed(reason: "rank \(rank) closed its link") }
        try outbound.push(frame)
    }

    public func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] {
        // Frames still queued for a member that closed its own link are never delivered to it.
        if closedHere.load(ordering: .acquiring) { throw .closed(reason: "rank \(rank) closed its link") }
        return try inbound.pop(until: deadline, rank: rank)
    }

    public func dropUndecodable(_ frame: ReceivedFrame, reason: String) {
        dropped.add(1, ordering: .relaxed)
    }

    public var droppedFrames: Int { dropped.load(ordering: .relaxed) }

    public func close() {
        closedHere.store(true, ordering: .releasing)
        let reason = "rank \(rank) closed its link"
        inbound.close(reason: reason)
        outbound.close(reason: reason)
    }
}
