import CZeroMQ
import Collective
import Core
import Foundation

/// A process's two ring sockets (PULL from the previous rank, PUSH to the next), used directly by
/// the thread that runs the collective.
///
/// The control socket lives on the socket thread (`SocketLoop`); ring frames do not pass through
/// it. A frame then wakes two threads on its way (the sender's libzmq I/O thread, and the
/// receiver's reducing thread when its I/O thread has read it) instead of four, which on two cores
/// is both latency and CPU. libzmq sockets are not thread-safe, so every use holds `lock`; a
/// waiting call polls in slices of at most `slice` and releases the lock between them, so that
/// `close` (another thread) gets in.
///
/// Sends never wait for the receiver without also receiving: while a message waits for room (the
/// high-water mark), what arrives is kept in `inbox` for the next receive, so two members that
/// both send cannot block each other.
///
/// `@unchecked Sendable`: the sockets, `inbox` and `closed` are only touched with `lock` held.
final class RingSockets: @unchecked Sendable {
    private let lock = NSLock()
    private let context: ZMQContext
    private let settings: TransportSettings
    private let recycle: FrameBufferPool
    private var inbound: ZMQSocket?
    private var outbound: ZMQSocket?
    private var outboundEndpoint: String?
    private var inbox: [RingFrame?] = []
    private var inboxHead = 0
    private var closed = false
    /// Messages that were not [generation, frame] or [generation, header, payload], dropped.
    private var malformed = 0
    /// The longest one poll holds the lock.
    static let slice: Duration = .milliseconds(50)

    /// This process's CURVE key pair; nil for plaintext rings.
    private let identity: CurveKeyPair?
    /// The key the outbound socket was made with (it is remade when the next member's key changes).
    private var outboundKey: CurveKey?

    init(context: ZMQContext, settings: TransportSettings, recycle: FrameBufferPool, identity: CurveKeyPair? = nil) {
        self.context = context
        self.settings = settings
        self.recycle = recycle
        self.identity = identity
    }

    /// What a ring message carries after its generation tag.
    enum Payload {
        /// One frame, in an array (sent without a copy when large).
        case bytes([UInt8])
        /// A received frame sent on unchanged, in the pieces it came in.
        case lent(ReceivedFrame)
        /// A frame header and a payload lent from the sender's memory.
        case lentPayload([UInt8], LentPayload)
    }

    enum Failure: Error {
        case closed
        case timedOut
    }

    /// Binds the inbound socket on `host` with a port the system picks; returns the endpoint.
    /// Whether the ring's frames are sealed by the link above (`SealedRingLink`): the sockets
    /// then run without CurveZMQ. Set by `bind`.
    private(set) var sealed = false

    func bind(host: String, origin: String, sealed: Bool = false) throws -> String {
        let endpoint: Endpoint
        do {
            endpoint = try Endpoint(host: host, port: nil)
        } catch {
            throw EndpointError(value: host, origin: origin, problem: error.problem)
        }
        lock.lock()
        defer { lock.unlock() }
        if closed { throw TransportError.closed }
        self.sealed = sealed
        let identity = sealed ? nil : self.identity
        let (socket, bound) = try ZMQSocket.bound(context, kind: ZMQ_PULL, endpoint: endpoint, origin: origin, lingerMillis: 0,
                                                  highWaterMark: settings.ringHighWaterMark, maxMessageBytes: settings.maxRingBytes) { socket throws(ZMQError) in
            if let identity { try socket.makeCurveServer(identity, domain: ZAPDomain.ring) }
        }
        inbound?.close()
        inbound = socket
        return bound
    }

    /// Points the outbound socket at `endpoint`; a no-op when it points there already. Messages
    /// still queued for a previous neighbour are dropped (and lent payloads released).
    func connect(next endpoint: String, serverKey: CurveKey? = nil) throws {
        lock.lock()
        defer { lock.unlock() }
        if closed { throw TransportError.closed }
        if outboundEndpoint == endpoint && outboundKey == serverKey { return }
        outbound?.close()
        outbound = nil
        outboundEndpoint = nil
        // The next member's address came from the coordinator's lease, which relayed what that
        // member announced: checked like any other before it is dialled.
        let next = try Endpoint.parse(endpoint, origin: "the next ring member's endpoint")
        let socket = try ZMQSocket.connected(context, kind: ZMQ_PUSH, endpoint: next, origin: "the next ring member's endpoint",
                                             lingerMillis: 0, highWaterMark: settings.ringHighWaterMark,
                                             maxMessageBytes: settings.maxRingBytes) { [identity] socket throws(ZMQError) in
            if let identity, let serverKey { try socket.makeCurveClient(identity, serverKey: serverKey) }
        }
        socket.recycle = recycle
        outbound = socket
        outboundEndpoint = endpoint
        outboundKey = serverKey
    }

    /// Sends one message tagged with `generation`, waiting for room until `deadline` and
    /// receiving into the inbox meanwhile. `keepWaiting` is asked between slices (a newer
    /// generation, a closed link) and ends the wait with `.closed` when it says no.
    func send(_ payload: Payload, generation: UInt64, until deadline: ContinuousClock.Instant,
              keepWaiting: () -> Bool) throws(Failure) {
        let tag = withUnsafeBytes(of: generation.littleEndian) { Array($0) }
        while true {
            lock.lock()
            guard !closed, let socket = outbound else {
                lock.unlock()
                throw .closed
            }
            let sent: Bool
            do {
                switch payload {
                case .bytes(let frame): sent = try socket.trySend([tag, frame])
                case .lent(let frame): sent = try socket.trySend(tag, lent: frame)
                case .lentPayload(let head, let lent): sent = try socket.trySend(tag, head: head, lent: lent)
                }
            } catch {
                lock.unlock()
                throw .closed
            }
            if sent {
                lock.unlock()
                return
            }
            // The high-water mark: wait for room, taking in what arrives meanwhile.
            let wait = min(Self.slice, ContinuousClock.now.duration(to: deadline))
            if wait <= .zero {
                lock.unlock()
                throw .timedOut
            }
            pollLocked(forSending: true, wait: wait)
            lock.unlock()
            if !keepWaiting() { throw .closed }
        }
    }

    /// The next frame, waiting at most until `deadline` (callers pass a slice and loop, checking
    /// their own conditions between calls); nil if none came.
    func receive(until deadline: ContinuousClock.Instant) throws(Failure) -> RingFrame? {
        lock.lock()
        defer { lock.unlock() }
        while true {
            if let frame = takeFromInbox() { return frame }
            if closed || inbound == nil { throw .closed }
            if let frame = receiveOneLocked() { return frame }
            let wait = min(Self.slice, ContinuousClock.now.duration(to: deadline))
            if wait <= .zero { return nil }
            pollLocked(forSending: false, wait: wait)
        }
    }

    /// Messages dropped because they were not ring messages at all (no 8-byte generation tag, or
    /// too many parts): a stray or hostile sender, counted rather than trusted.
    var malformedMessages: Int {
        lock.lock()
        defer { lock.unlock() }
        return malformed
    }

    /// Closes both sockets; every later call throws `.closed`. Idempotent.
    func close() {
        lock.lock()
        defer { lock.unlock() }
        closed = true
        inbound?.close()
        outbound?.close()
        inbound = nil
        outbound = nil
        inbox.removeAll()
        inboxHead = 0
    }

    // MARK: With `lock` held

    /// Waits until the inbound socket has a message (or, `forSending`, the outbound one has room),
    /// at most `wait`; whatever arrived goes to the inbox when sending.
    private func pollLocked(forSending: Bool, wait: Duration) {
        var items: [zmq_pollitem_t] = []
        if let handle = inbound?.handle { items.append(zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)) }
        if forSending, let handle = outbound?.handle {
            items.append(zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLOUT), revents: 0))
        }
        let millis = max(1, Int(wait.inSeconds * 1000))
        _ = zmq_poll(&items, Int32(items.count), millis)
        if forSending {
            while let frame = receiveOneLocked() { inbox.append(frame) }
        }
    }

    /// One message from the inbound socket if one is waiting: [generation, frame] or, when its
    /// payload was lent, [generation, header, payload]. Anything else is dropped.
    private func receiveOneLocked() -> RingFrame? {
        guard let socket = inbound else { return nil }
        while let (parts, last) = try? socket.tryReceiveLendingLast() {
            guard parts.count == 1 || parts.count == 2, parts[0].count == 8 else {
                malformed += 1
                continue
            }
            let generation = parts[0].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            return RingFrame(generation: generation, payload: parts.count == 1 ? last : last.withHeadOf(parts[1]))
        }
        return nil
    }

    private func takeFromInbox() -> RingFrame? {
        guard inboxHead < inbox.count else { return nil }
        let frame = inbox[inboxHead]
        inbox[inboxHead] = nil  // the inbox must not keep a megabyte it handed out
        inboxHead += 1
        if inboxHead == inbox.count {
            inbox.removeAll(keepingCapacity: true)
            inboxHead = 0
        }
        return frame
    }
}
