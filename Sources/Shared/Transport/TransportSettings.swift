import Collective

/// Limits of the sockets; every one is bounded.
public struct TransportSettings: Sendable, Equatable {
    /// How long `close` lets unsent messages drain (ZMQ_LINGER).
    public var lingerMillis: Int32 = 500
    /// Messages queued per socket and direction before senders are held back. Low for the ring,
    /// whose frames are large.
    public var controlHighWaterMark: Int32 = 1000
    public var ringHighWaterMark: Int32 = 16
    /// Largest control message accepted (state transfers carry whole models).
    public var maxControlBytes: Int64 = Int64(512 << 20)
    /// Bytes of received control messages held for the process's loop before the socket thread
    /// stops reading (`ControlInbox`): at least one largest message fits.
    public var maxQueuedControlBytes: Int = 1 << 30
    /// Largest ring frame accepted.
    public var maxRingBytes: Int64 = Int64(64 << 20)

    public init() {}
}

/// A message from the control channel. `peer` is the ROUTER's routing id of the sender on the
/// coordinator, and empty on a worker (whose only peer is the coordinator).
public struct ControlFrame: Sendable {
    public var peer: [UInt8]
    public var bytes: [UInt8]
    /// The sender's public key as the handshake proved it (CURVE on the coordinator); nil without
    /// authentication.
    public var key: CurveKey?

    public init(peer: [UInt8], bytes: [UInt8], key: CurveKey? = nil) {
        self.peer = peer
        self.bytes = bytes
        self.key = key
    }
}

/// A frame that arrived on the ring socket, tagged with the generation its sender was in.
public struct RingFrame: Sendable {
    public var generation: UInt64
    /// The frame's bytes, lent from libzmq's message (no copy).
    public var payload: ReceivedFrame
}
