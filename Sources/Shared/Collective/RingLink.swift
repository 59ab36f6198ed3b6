import Core

/// One member's connections in a ring: frames go to the next rank and come from the previous one.
///
/// A link moves opaque frames in order (FIFO per direction) and nothing else: the all-reduce puts
/// whatever header it needs inside the frame. Implementations: `InProcessRing` (tests, threads of
/// one process) and `Transport.ZeroMQRingLink` (worker-to-worker TCP). Both pass
/// `CollectiveLinkContract`.
public protocol RingLink: AnyObject, Sendable {
    /// This member's position in the ring, `0..<worldSize`.
    var rank: Int { get }
    /// The number of members in the ring.
    var worldSize: Int { get }
    /// Queues one frame for the next rank, `(rank + 1) % worldSize`. Does not wait for delivery;
    /// throws if the link is closed.
    func send(_ frame: [UInt8]) throws(CollectiveError)
    /// The next frame from the previous rank, `(rank - 1 + worldSize) % worldSize`, waiting until
    /// `deadline` at the most; throws `.timeout` past it, `.closed` if the link was closed.
    func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8]
    /// `receive`, with the frame's bytes lent rather than copied into an array when the
    /// transport can (the all-reduce uses this one). Default: `receive` wrapped.
    func receiveFrame(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> ReceivedFrame
    /// `receiveFrame`, for a frame whose payload the caller would store unchanged at
    /// `placement.destination` (the all-gather's frames). A transport that must write the payload
    /// somewhere anyway (a sealed link decrypts it) may write it there instead, for a frame whose
    /// head `placement` accepts, and return that frame's head alone with `placedPayloadBytes` set.
    /// A frame it then refuses (one that does not authenticate) may have written there first, so
    /// `destination` holds the payload only once a placed frame is returned. Default:
    /// `receiveFrame(until:)`, which places nothing.
    func receiveFrame(until deadline: ContinuousClock.Instant, placing placement: PayloadPlacement) throws(CollectiveError) -> ReceivedFrame
    /// An array of `count` bytes, contents unspecified, to fill and pass to `send`: a transport
    /// that recycles the arrays it has sent returns one of those. Default: a new array.
    func frameStorage(count: Int) -> [UInt8]
    /// Sends a frame received from the previous rank on to the next one, unchanged: the
    /// all-gather's forwarding, without copying the frame when the transport can send the
    /// received bytes themselves. Default: `send` of the bytes.
    func forward(_ frame: ReceivedFrame) throws(CollectiveError)
    /// Queues one frame made of `header` followed by `payload`, where the transport may read the
    /// payload where it lies, after this call returns, instead of copying it: the caller keeps
    /// that memory alive and unchanged until `settle` returns true. The receiver sees one frame,
    /// as if `send` had been given the two concatenated. Default: copies both into one frame.
    func send(header: [UInt8], lending payload: UnsafeRawBufferPointer) throws(CollectiveError)
    /// Offers the link this member's next sends, in order, before it makes them. A link with work
    /// to do per frame (a sealed link encrypts each) may take them and do that work ahead, on
    /// another thread, while the collective waits for its neighbours: it returns true, and the
    /// collective then makes each of those sends with `sendPrepared()`, in order, and nothing
    /// else before them. From then on what the frames read (a lent payload, or what their writer
    /// reads) must stay alive and unchanged until `settle` returns true. Default: false.
    func prepareSends(_ frames: [PreparedSend]) -> Bool
    /// Sends the next frame taken by `prepareSends`.
    func sendPrepared() throws(CollectiveError)
    /// Waits until the transport no longer reads any payload lent by `send(header:lending:)`;
    /// false if some is still lent at `deadline` (its memory must then be kept until a later
    /// call returns true). Default: true at once (nothing is ever lent).
    func settle(until deadline: ContinuousClock.Instant) -> Bool
    /// Keeps `storage` (the arrays whose memory was lent) alive until every payload lent so far
    /// is released: after a failed collective, whose frames may stay queued for a neighbour that
    /// is gone, the caller cannot wait. Default: nothing (nothing is ever lent).
    func keepUntilSettled(_ storage: Any)
    /// Records that the collective dropped `frame` because it could not use it: its header does
    /// not decode, or its size is not what its header says. One broken or hostile frame must not
    /// fail a step (DESIGN.md, "hostile or broken peer"), so it is counted, not thrown. Default:
    /// nothing is recorded.
    func dropUndecodable(_ frame: ReceivedFrame, reason: String)
    /// Frames dropped with `dropUndecodable` on this link so far. Default: 0.
    var droppedFrames: Int { get }
}

extension RingLink {
    public func receiveFrame(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> ReceivedFrame {
        ReceivedFrame(try receive(until: deadline))
    }

    public func receiveFrame(until deadline: ContinuousClock.Instant, placing placement: PayloadPlacement) throws(CollectiveError) -> ReceivedFrame {
        try receiveFrame(until: deadline)
    }

    public func frameStorage(count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    public func forward(_ frame: ReceivedFrame) throws(CollectiveError) {
        try send(frame.bytes)
    }

    public func send(header: [UInt8], lending payload: UnsafeRawBufferPointer) throws(CollectiveError) {
        try sendCopying(header: header, payload: payload)
    }

    /// Sends `header` followed by `payload` as one frame, copied into a `frameStorage` array: what
    /// `send(header:lending:)` does for a link that does not lend.
    public func sendCopying(header: [UInt8], payload: UnsafeRawBufferPointer) throws(CollectiveError) {
        var frame = frameStorage(count: header.count + payload.count)
        frame.withUnsafeMutableBytes { raw in
            header.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: raw[..<header.count]).copyMemory(from: $0) }
            if !payload.isEmpty { UnsafeMutableRawBufferPointer(rebasing: raw[header.count...]).copyMemory(from: payload) }
        }
        try send(frame)
    }

    public func prepareSends(_ frames: [PreparedSend]) -> Bool { false }

    public func sendPrepared() throws(CollectiveError) {
        throw .malformed("a prepared send on a link that takes none")
    }

    public func settle(until deadline: ContinuousClock.Instant) -> Bool { true }

    public func keepUntilSettled(_ storage: Any) {}

    public func dropUndecodable(_ frame: ReceivedFrame, reason: String) {}

    public var droppedFrames: Int { 0 }
}

/// A frame a member is about to send (`RingLink.prepareSends`): its header, and its payload —
/// lent from where it lies, or written by the collective's code into the frame.
public struct PreparedSend: @unchecked Sendable {
    public enum Payload {
        /// Bytes that stay where they are until the collective settles.
        case lent(UnsafeRawBufferPointer)
        /// `count` bytes that `write` puts into the buffer it is given; it may run on another
        /// thread, and reads only what stays unchanged until the collective settles.
        case written(count: Int, write: (UnsafeMutableRawBufferPointer) -> Void)
    }

    public let header: [UInt8]
    public let payload: Payload

    public init(header: [UInt8], payload: Payload) {
        self.header = header
        self.payload = payload
    }

    /// Bytes of payload.
    public var payloadCount: Int {
        switch payload {
        case .lent(let bytes): bytes.count
        case .written(let count, _): count
        }
    }
}

/// Where the payload of the next frame belongs, for `RingLink.receiveFrame(until:placing:)`.
public struct PayloadPlacement {
    /// Bytes of the frame's head (the collective's frame header) in front of the payload.
    public let headBytes: Int
    /// Where the payload goes: exactly as long as it must be.
    public let destination: UnsafeMutableRawBufferPointer
    /// Whether a frame with this head is the frame expected, checked before anything is written.
    public let accepts: (UnsafeRawBufferPointer) -> Bool

    public init(headBytes: Int, destination: UnsafeMutableRawBufferPointer, accepts: @escaping (UnsafeRawBufferPointer) -> Bool) {
        self.headBytes = headBytes
        self.destination = destination
        self.accepts = accepts
    }
}

/// Why a collective did not complete. The training loop acts on it: a timeout or a closed link
/// means a member is gone and a new generation must start; the step is redone, never half-applied.
public enum CollectiveError: GroveError, Equatable {
    /// Nothing arrived from the previous rank before the deadline.
    case timeout(rank: Int, waited: Duration)
    /// The link was closed (the member is leaving, or the generation ended).
    case closed(reason: String)
    /// A frame's header decoded but disagreed with this member's plan (another mode, vector
    /// length, frame size or collective): the members disagree about the collective. Frames whose
    /// header does not decode at all are dropped and counted instead (`RingLink.droppedFrames`).
    case malformed(String)
    /// A neighbour is already in a newer generation: this attempt cannot complete and is
    /// abandoned, the process and its sockets go on (the coordinator re-deals the step).
    case superseded(generation: UInt64)

    public var code: String {
        switch self {
        case .timeout: "collective.timeout"
        case .closed: "collective.closed"
        case .malformed: "collective.malformed"
        case .superseded: "collective.superseded"
        }
    }

    public var message: String {
        switch self {
        case .timeout(let rank, let waited):
            "rank \(rank) received nothing from its previous rank within \(waited.inSeconds) s"
        case .closed(let reason): "the ring link was closed: \(reason)"
        case .malformed(let what): "malformed collective frame: \(what)"
        case .superseded(let generation): "a neighbour moved on to generation \(generation); this attempt is abandoned"
        }
    }
}

/// How gradients are summed (`reduce.mode` in cluster.yaml).
public enum ReduceMode: String, Sendable, CaseIterable, Codable {
    /// Integer fixed point with a shared exponent per block: bitwise identical for any world size,
    /// ring order, chunking and assignment of micro-batches to workers.
    case exact
    /// Plain float32 sums around the ring; fast, but the bits depend on the world size.
    case fp32
    /// float16 on the wire with dynamic loss scaling; half the bytes, not bitwise invariant.
    case fp16
}
