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
    /// An array of `count` bytes, contents unspecified, to fill and pass to `send`: a transport
    /// that recycles the arrays it has sent returns one of those. Default: a new array.
    func frameStorage(count: Int) -> [UInt8]
    /// Sends a frame received from the previous rank on to the next one, unchanged: the
    /// all-gather's forwarding, without copying the frame when the transport can send the
    /// received bytes themselves. Default: `send` of the bytes.
    func forward(_ frame: ReceivedFrame) throws(CollectiveError)
}

extension RingLink {
    public func receiveFrame(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> ReceivedFrame {
        ReceivedFrame(try receive(until: deadline))
    }

    public func frameStorage(count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    public func forward(_ frame: ReceivedFrame) throws(CollectiveError) {
        try send(frame.bytes)
    }
}

/// Why a collective did not complete. The training loop acts on it: a timeout or a closed link
/// means a member is gone and a new generation must start; the step is redone, never half-applied.
public enum CollectiveError: GroveError, Equatable {
    /// Nothing arrived from the previous rank before the deadline.
    case timeout(rank: Int, waited: Duration)
    /// The link was closed (the member is leaving, or the generation ended).
    case closed(reason: String)
    /// A frame did not have the expected shape (wrong length, wrong header).
    case malformed(String)

    public var code: String {
        switch self {
        case .timeout: "collective.timeout"
        case .closed: "collective.closed"
        case .malformed: "collective.malformed"
        }
    }

    public var message: String {
        switch self {
        case .timeout(let rank, let waited):
            "rank \(rank) received nothing from its previous rank within \(waited.inSeconds) s"
        case .closed(let reason): "the ring link was closed: \(reason)"
        case .malformed(let what): "malformed collective frame: \(what)"
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
