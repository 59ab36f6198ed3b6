import Collective
import Core

/// A `RingLink` over worker-to-worker ZeroMQ sockets, for one generation.
///
/// Every frame is tagged with the generation; frames of any other generation (a late neighbour of
/// a previous ring) are dropped and counted, so a collective can never mix two generations.
public final class ZeroMQRingLink: ClosableRingLink, @unchecked Sendable {
    // Invariant: `stale` is touched only by the one thread that runs the collective.
    public let rank: Int
    public let worldSize: Int
    public let generation: Generation
    private let loop: SocketLoop
    /// Frames of other generations dropped by this link.
    public private(set) var stale = 0
    /// Payload bytes this link has queued for the next rank.
    public private(set) var bytesSent = 0

    /// Whether `send(header:lending:)` lends the payload to libzmq (a three-part message) or
    /// copies it into a one-piece frame, which ring members of protocol 1.1 and older can read.
    public let lendsPayloads: Bool

    /// Connects the outbound side to `next` (the ring socket of rank + 1).
    public init(loop: SocketLoop, generation: Generation, rank: Int, worldSize: Int, next: String, lendsPayloads: Bool = true) throws {
        precondition(worldSize >= 1 && (0..<worldSize).contains(rank), "rank \(rank) outside a ring of \(worldSize)")
        self.loop = loop
        self.lendsPayloads = lendsPayloads
        self.generation = generation
        self.rank = rank
        self.worldSize = worldSize
        try loop.connectRing(next: next)
    }

    private let closed = Locked(false)

    /// Ends this link: its own sends and receives throw `.closed` from now on. The sockets stay
    /// open for the next generation's link.
    public func close() { closed.value = true }

    public func send(_ frame: [UInt8]) throws(CollectiveError) {
        if closed.value { throw .closed(reason: "this ring link was closed") }
        bytesSent += frame.count
        loop.sendRing(frame, generation: generation.rawValue)
    }

    public func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] {
        try receiveFrame(until: deadline).bytes
    }

    /// Sends a received frame on without copying it (libzmq writes the received bytes).
    public func forward(_ frame: ReceivedFrame) throws(CollectiveError) {
        if closed.value { throw .closed(reason: "this ring link was closed") }
        bytesSent += frame.count
        loop.forwardRing(frame, generation: generation.rawValue)
    }

    /// Sends the payload from where it lies: libzmq writes those bytes itself.
    public func send(header: [UInt8], lending payload: UnsafeRawBufferPointer) throws(CollectiveError) {
        guard lendsPayloads else { return try sendCopying(header: header, payload: payload) }
        if closed.value { throw .closed(reason: "this ring link was closed") }
        bytesSent += header.count + payload.count
        loop.sendRing(header: header, lending: payload, generation: generation.rawValue)
    }

    public func settle(until deadline: ContinuousClock.Instant) -> Bool {
        loop.lending.settle(until: deadline)
    }

    public func keepUntilSettled(_ storage: Any) {
        loop.lending.keep(storage)
    }

    /// An array the socket thread handed back after sending it, or a new one.
    public func frameStorage(count: Int) -> [UInt8] {
        loop.ringFramePool.take(count: count)
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
            switch loop.ring.pop(until: min(deadline, .now + .milliseconds(50))) {
            case .item(let frame):
                if frame.generation == generation.rawValue { return frame.payload }
                if frame.generation > generation.rawValue {
                    // A neighbour is already in a newer generation: this collective cannot complete.
                    loop.heldRing.hold(frame)
                    throw .closed(reason: "a neighbour moved on to generation \(frame.generation)")
                }
                stale += 1
            case .timedOut:
                if ContinuousClock.now >= deadline { throw .timeout(rank: rank, waited: started.duration(to: .now)) }
            case .closed:
                throw .closed(reason: "the process's sockets are closed")
            }
        }
    }
}
