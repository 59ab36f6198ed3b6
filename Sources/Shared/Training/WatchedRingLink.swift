import Collective
import Core

/// A ring link that remembers where a collective stopped: which direction failed (a receive from
/// the previous member, or a send to the next) and how many frames the previous member had
/// delivered. A worker whose collective fails names that neighbour to the coordinator, which
/// weighs every member's report to find the one at fault.
final class WatchedRingLink: RingLink, @unchecked Sendable {
    // Invariant: used only by the thread that runs the collective, like the link it wraps.
    let inner: any RingLink
    private(set) var framesReceived = 0
    private(set) var failedDirection: Direction?
    /// A fault injected for tests (`FaultAction.cutRing`): frames to the next member vanish.
    var discardsSends = false

    enum Direction { case receive, send }

    init(_ inner: any RingLink) { self.inner = inner }

    var rank: Int { inner.rank }
    var worldSize: Int { inner.worldSize }

    private func watch<T>(_ direction: Direction, _ body: () throws(CollectiveError) -> T) throws(CollectiveError) -> T {
        do {
            return try body()
        } catch {
            if failedDirection == nil { failedDirection = direction }
            throw error
        }
    }

    func send(_ frame: [UInt8]) throws(CollectiveError) {
        if discardsSends { return }
        try watch(.send) { () throws(CollectiveError) in try inner.send(frame) }
    }

    func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] {
        let frame = try watch(.receive) { () throws(CollectiveError) in try inner.receive(until: deadline) }
        framesReceived += 1
        return frame
    }

    func receiveFrame(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> ReceivedFrame {
        let frame = try watch(.receive) { () throws(CollectiveError) in try inner.receiveFrame(until: deadline) }
        framesReceived += 1
        return frame
    }

    func receiveFrame(until deadline: ContinuousClock.Instant, placing placement: PayloadPlacement) throws(CollectiveError) -> ReceivedFrame {
        let frame = try watch(.receive) { () throws(CollectiveError) in try inner.receiveFrame(until: deadline, placing: placement) }
        framesReceived += 1
        return frame
    }

    func frameStorage(count: Int) -> [UInt8] { inner.frameStorage(count: count) }

    func forward(_ frame: ReceivedFrame) throws(CollectiveError) {
        if discardsSends { return }
        try watch(.send) { () throws(CollectiveError) in try inner.forward(frame) }
    }

    func send(header: [UInt8], lending payload: UnsafeRawBufferPointer) throws(CollectiveError) {
        if discardsSends { return }
        try watch(.send) { () throws(CollectiveError) in try inner.send(header: header, lending: payload) }
    }

    func prepareSends(_ frames: [PreparedSend]) -> Bool {
        // A link whose sends vanish (`discardsSends`) prepares none.
        !discardsSends && inner.prepareSends(frames)
    }

    func sendPrepared() throws(CollectiveError) {
        try watch(.send) { () throws(CollectiveError) in try inner.sendPrepared() }
    }

    func dropUndecodable(_ frame: ReceivedFrame, reason: String) { inner.dropUndecodable(frame, reason: reason) }

    var droppedFrames: Int { inner.droppedFrames }

    func settle(until deadline: ContinuousClock.Instant) -> Bool { inner.settle(until: deadline) }

    func keepUntilSettled(_ storage: Any) { inner.keepUntilSettled(storage) }
}
