import Collective
import Core

/// A `RingLink` over worker-to-worker ZeroMQ sockets, for one generation.
///
/// Every frame is tagged with the generation; frames of older generations (a late neighbour of
/// a previous ring) are dropped and counted, so a collective can never mix two generations. A
/// frame of a newer generation ends this attempt (`CollectiveError.superseded`) and is kept for
/// the next link. Frames of this generation that the collective cannot decode are dropped and
/// counted in `droppedFrames`.
public final class ZeroMQRingLink: ClosableRingLink, @unchecked Sendable {
    // Invariant: `stale`, `droppedFrames` and `lastDropReason` are touched only by the one thread
    // that runs the collective.
    public let rank: Int
    public let worldSize: Int
    public let generation: Generation
    private let loop: SocketLoop
    /// Frames of other generations dropped by this link.
    public private(set) var stale = 0
    /// Frames of this generation the collective could not decode, dropped (`dropUndecodable`).
    public private(set) var droppedFrames = 0
    /// Why the most recent of them was dropped, for the worker's report; nil when none was.
    public private(set) var lastDropReason: String?
    /// Payload bytes this link has queued for the next rank.
    public private(set) var bytesSent = 0

    /// Whether `send(header:lending:)` lends the payload to libzmq (a three-part message) or
    /// copies it into a one-piece frame, which ring members of protocol 1.1 and older can read.
    public let lendsPayloads: Bool

    /// The longest a send waits for room in the next member's queue (which fills only when that
    /// member has stopped reading) before the collective fails with `.timeout`.
    public let stallTimeout: Duration

    /// Whether a frame of a newer generation ends the attempt (see `init`).
    public let trustsGenerationTags: Bool

    /// Connects the outbound side to `next` (the ring socket of rank + 1).
    ///
    /// - Parameter nextKey: the next member's public key, as the coordinator announced it
    ///   (required when the loop uses CURVE).
    ///   - trustsGenerationTags: whether a frame tagged with a newer generation ends the attempt
    ///     (`.superseded`). Only where the tag is authenticated: on plain sockets under a sealed
    ///     ring anyone who reaches the port could write it, so such a frame is held for the next
    ///     link, where it must open under that lease's key, and the attempt waits on for the
    ///     coordinator's word instead.
    public init(loop: SocketLoop, generation: Generation, rank: Int, worldSize: Int, next: String, nextKey: CurveKey? = nil,
                lendsPayloads: Bool = true, stallTimeout: Duration = .seconds(30), trustsGenerationTags: Bool = true) throws {
        precondition(worldSize >= 1 && (0..<worldSize).contains(rank), "rank \(rank) outside a ring of \(worldSize)")
        self.trustsGenerationTags = trustsGenerationTags
        self.loop = loop
        self.lendsPayloads = lendsPayloads
        self.stallTimeout = stallTimeout
        self.generation = generation
        self.rank = rank
        self.worldSize = worldSize
        try loop.connectRing(next: next, key: nextKey)
    }

    private let closed = Locked(false)

    /// Ends this link: its own sends and receives throw `.closed` from now on. The sockets stay
    /// open for the next generation's link.
    public func close() { closed.value = true }

    public func send(_ frame: [UInt8]) throws(CollectiveError) {
        try push(.bytes(frame), bytes: frame.count)
    }

    public func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] {
        try receiveFrame(until: deadline).bytes
    }

    /// Sends a received frame on without copying it (libzmq writes the received bytes).
    public func forward(_ frame: ReceivedFrame) throws(CollectiveError) {
        try push(.lent(frame), bytes: frame.count)
    }

    /// Sends the payload from where it lies: libzmq writes those bytes itself.
    public func send(header: [UInt8], lending payload: UnsafeRawBufferPointer) throws(CollectiveError) {
        guard lendsPayloads else { return try sendCopying(header: header, payload: payload) }
        let ledger = loop.lending
        ledger.lend()
        // Released when libzmq is done with the bytes, or at once if the message is not sent.
        let lent = LentPayload(payload) { ledger.release() }
        try push(.lentPayload(header, lent), bytes: header.count + payload.count)
    }

    public func dropUndecodable(_ frame: ReceivedFrame, reason: String) {
        droppedFrames += 1
        lastDropReason = reason
    }

    public func settle(until deadline: ContinuousClock.Instant) -> Bool {
        loop.lending.settle(until: deadline)
    }

    public func keepUntilSettled(_ storage: Any) {
        loop.lending.keep(storage)
    }

    /// An array libzmq handed back after sending it, or a new one.
    public func frameStorage(count: Int) -> [UInt8] {
        loop.ringFramePool.take(count: count)
    }

    /// Hands one message to libzmq from this thread. It waits only while the next member's queue
    /// is full (receiving meanwhile), at most `stallTimeout`, and gives up as soon as this link is
    /// closed or the coordinator has moved on.
    private func push(_ payload: RingSockets.Payload, bytes: Int) throws(CollectiveError) {
        if closed.value { throw .closed(reason: "this ring link was closed") }
        let started = ContinuousClock.now
        do {
            try loop.ringSockets.send(payload, generation: generation.rawValue, until: started + stallTimeout) {
                !closed.value && loop.newestControlGeneration.value <= generation.rawValue
            }
        } catch .timedOut {
            throw .timeout(rank: rank, waited: started.duration(to: .now))
        } catch {
            if loop.newestControlGeneration.value > generation.rawValue {
                throw .closed(reason: "the coordinator started generation \(loop.newestControlGeneration.value)")
            }
            throw .closed(reason: closed.value ? "this ring link was closed" : "the process's sockets are closed")
        }
        bytesSent += bytes
    }

    public func receiveFrame(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> ReceivedFrame {
        if closed.value { throw .closed(reason: "this ring link was closed") }
        let started = ContinuousClock.now
        let (held, dropped) = loop.heldRing.take(generation: generation.rawValue)
        stale += dropped
        if let held { return held.payload }
        while true {
            if closed.value { throw .closed(reason: "this ring link was closed") }
            if loop.newestControlGeneration.value > generation.rawValue {
                throw .closed(reason: "the coordinator started generation \(loop.newestControlGeneration.value)")
            }
            // Wait in slices so that a new generation announced on the control channel is noticed.
            let frame: RingFrame?
            do {
                frame = try loop.ringSockets.receive(until: min(deadline, .now + .milliseconds(50)))
            } catch {
                throw .closed(reason: "the process's sockets are closed")
            }
            if let frame {
                if frame.generation == generation.rawValue { return frame.payload }
                if frame.generation > generation.rawValue {
                    // A neighbour is already in a newer generation: this collective cannot complete.
                    loop.heldRing.hold(frame)
                    if trustsGenerationTags { throw .superseded(generation: frame.generation) }
                } else {
                    stale += 1
                }
            }
            // Checked after every frame too: a peer that keeps sending frames of other
            // generations must not hold this wait past its deadline.
            if ContinuousClock.now >= deadline {
                throw .timeout(rank: rank, waited: started.duration(to: .now))
            }
        }
    }
}
