import CZeroMQ
import Collective
import Core
import Foundation
import Wire

/// The one thread of a process that owns the ZeroMQ context and the control socket, and the
/// process's ring sockets (`RingSockets`, used directly by the thread that runs a collective).
///
/// libzmq sockets are not thread-safe. Other threads never touch the control socket: they hand
/// commands to this thread through a queue and a wake-up pipe, and read what arrives from the
/// `control` queue. The thread polls its socket and the pipe, sends what is queued (holding
/// messages back while a high-water mark is reached), and receives everything that is ready.
public final class SocketLoop: @unchecked Sendable {
    // Invariant: everything below marked "loop thread" is touched only on `thread`.
    public let settings: TransportSettings
    /// Control messages received (ROUTER on the coordinator, DEALER on a worker).
    public let control: ControlInbox
    /// The newest generation named by any control message received (a worker's view of the
    /// coordinator). A ring link whose generation is older gives up at once instead of waiting for
    /// a neighbour that has already been re-dealt.
    public let newestControlGeneration = Locked<UInt64>(0)

    /// Ring frames of a generation newer than the collective that received them, kept for the next
    /// link so that a neighbour who moved on first loses nothing.
    let heldRing = HeldFrames()
    /// Ring frame arrays libzmq has finished sending, for the next frames (`ZeroMQRingLink`).
    public let ringFramePool = FrameBufferPool()
    /// Payloads lent by ring links and not yet released by libzmq: kept by the loop, not the
    /// link, because a link ends with its generation while its frames may still be queued.
    public let lending = LendingLedger()

    /// Plaintext, or CurveZMQ with this process's keys (control and ring alike).
    public let security: TransportSecurity
    /// Handshakes the ZAP handler refused (unknown keys, keys of no current ring member), and
    /// control messages dropped because their key is no longer authorized.
    public let refusals = Locked(RefusalLog())
    /// The public keys of the current generation's ring members (`admitRing`): the only clients
    /// the ring socket accepts under CURVE.
    private let ringMembers = Locked<Set<CurveKey>>([])
    private let onRefused: @Sendable (_ address: String, _ domain: String, _ reason: String, _ unlogged: Int) -> Void
    private let zapLock = NSLock()
    private var zap: ZAPHandler?  // guarded by zapLock

    private let context = ZMQContext()
    /// The ring's PULL and PUSH sockets, used by the collective's thread (`ZeroMQRingLink`).
    let ringSockets: RingSockets
    private let commandLock = NSLock()
    private var commands: [(SocketLoop) -> Void] = []  // guarded by commandLock
    private var stopping = false  // guarded by commandLock
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    // Loop thread.
    private var controlSocket: ZMQSocket?
    private var pendingControl: [[[UInt8]]] = []
    /// Control messages addressed to a peer that is gone (ROUTER_MANDATORY), counted not thrown.
    private var unroutable = 0

    /// - Parameters:
    ///   - security: `.curve` makes every socket of this process a CurveZMQ socket; server sockets
    ///     then admit only authorized keys (control) or the current ring members' (ring).
    ///   - onRefused: a refused handshake to log (at most once per peer address per minute):
    ///     the address, the endpoint (`control`, `ring`), why, and how many went unlogged since.
    public init(settings: TransportSettings = TransportSettings(), security: TransportSecurity = .none,
                onRefused: @escaping @Sendable (_ address: String, _ domain: String, _ reason: String, _ unlogged: Int) -> Void = { _, _, _, _ in }) {
        self.settings = settings
        self.security = security
        self.onRefused = onRefused
        ringSockets = RingSockets(context: context, settings: settings, recycle: ringFramePool, identity: security.curve?.identity)
        // Received ring frames are libzmq allocations of a megabyte each: keep freed ones for
        // the next frames instead of faulting fresh pages in for every one.
        AllocatorPolicy.retainFreedMemory()
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe() failed: errno \(errno)")
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let wakeFD = fds[1]
        control = ControlInbox(budget: settings.maxQueuedControlBytes, onRoom: {
            var byte: UInt8 = 1
            _ = write(wakeFD, &byte, 1)
        })
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "grove-sockets"
        self.thread = thread
        thread.start()
    }

    // MARK: Commands (any thread)

    /// Binds the coordinator's ROUTER control socket; returns the bound endpoint.
    ///
    /// - Parameter origin: where the address came from, for errors (`coordinator.bind`).
    /// - Throws: `EndpointError` for an address that is not `tcp://HOST:PORT`, `TransportError.bind`
    ///   naming the address when the system refuses it (in use, not an address of this machine).
    public func bindControl(_ endpoint: String, origin: String = "the control endpoint") throws -> String {
        let parsed = try Endpoint.parse(endpoint, origin: origin, allowAnyPort: true)
        try startAuthentication()
        let identity = security.curve?.identity
        return try perform { loop in
            let (socket, bound) = try ZMQSocket.bound(
                loop.context, kind: ZMQ_ROUTER, endpoint: parsed, origin: origin, lingerMillis: loop.settings.lingerMillis,
                highWaterMark: loop.settings.controlHighWaterMark, maxMessageBytes: loop.settings.maxControlBytes) { socket throws(ZMQError) in
                if let identity { try socket.makeCurveServer(identity, domain: ZAPDomain.control) }
            }
            do {
                try socket.set(ZMQ_ROUTER_MANDATORY, 1)
            } catch {
                socket.close()
                throw error
            }
            loop.controlSocket = socket
            return bound
        }
    }

    /// Connects a worker's DEALER control socket to the coordinator.
    ///
    /// - Parameter origin: where the address came from, for errors (`--coordinator`).
    public func connectControl(_ endpoint: String, origin: String = "the coordinator's endpoint") throws {
        let parsed = try Endpoint.parse(endpoint, origin: origin)
        var client: (CurveKeyPair, CurveKey)?
        if let curve = security.curve {
            guard let serverKey = curve.serverKey else {
                throw SecurityError(code: "security.no-server-key", "cannot dial \(endpoint) (\(origin)) with CURVE: the coordinator's public key is not known (the `coordinator = …` line of the worker's key file)")
            }
            client = (curve.identity, serverKey)
        }
        try perform { loop in
            loop.controlSocket = try ZMQSocket.connected(
                loop.context, kind: ZMQ_DEALER, endpoint: parsed, origin: origin, lingerMillis: loop.settings.lingerMillis,
                highWaterMark: loop.settings.controlHighWaterMark, maxMessageBytes: loop.settings.maxControlBytes) { socket throws(ZMQError) in
                if let (identity, key) = client { try socket.makeCurveClient(identity, serverKey: key) }
            }
        }
    }

    /// Starts the context's ZAP handler (once) when this process uses CURVE: it must exist before
    /// any server socket is bound, or libzmq would admit every client that knows the public key.
    private func startAuthentication() throws {
        guard let curve = security.curve else { return }
        try zapLock.withLock {
            guard zap == nil else { return }
            let ringMembers = self.ringMembers
            zap = try ZAPHandler(context: context, refusals: refusals, policy: { request in
                guard let key = request.key else { return .refuse(reason: "no key") }
                switch request.domain {
                case ZAPDomain.control:
                    guard let authorized = curve.authorized else { return .refuse(reason: "this process admits no control clients") }
                    return authorized.allows(key) ? .allow(userID: key.z85) : .refuse(reason: "key \(key.z85) is not authorized")
                case ZAPDomain.ring:
                    return ringMembers.value.contains(key) ? .allow(userID: key.z85)
                        : .refuse(reason: "key \(key.z85) is not a member of the current ring")
                default:
                    return .refuse(reason: "unknown endpoint \(LogText.escape(request.domain, limit: 32))")
                }
            }, onRefused: onRefused)
        }
    }

    /// The public keys the ring socket admits from now on: the current generation's members, as
    /// the coordinator announced them. Connections already made stay (their frames are fenced by
    /// generation); a key left out is refused at its next handshake.
    public func admitRing(keys: Set<CurveKey>) {
        ringMembers.value = keys
    }

    /// Whether `key` is among those `admitRing` named last.
    public func ringAdmits(_ key: CurveKey) -> Bool {
        ringMembers.value.contains(key)
    }

    /// Binds the ring's inbound socket (PULL) on `host` with a port the system picks.
    ///
    /// - Parameter origin: where the host came from, for errors (`workers.bind`, `--bind`).
    ///   - sealed: the ring's frames are sealed by `SealedRingLink`, so its sockets run without
    ///     CurveZMQ even when this loop has keys.
    public func bindRing(host: String, origin: String = "the ring address (workers.bind or --bind)", sealed: Bool = false) throws -> String {
        try startAuthentication()
        return try ringSockets.bind(host: host, origin: origin, sealed: sealed)
    }

    /// Points the ring's outbound socket at the next member (whose public key is `key` under
    /// CURVE); a no-op when it already points there. Frames still queued for a previous neighbour
    /// are dropped.
    public func connectRing(next endpoint: String, key: CurveKey? = nil) throws {
        if security.isCurve && key == nil && !ringSockets.sealed {
            throw SecurityError(code: "security.ring-key", "the next ring member (\(endpoint.escapedForLog)) has no announced key: not dialled")
        }
        try ringSockets.connect(next: endpoint, serverKey: key)
    }

    /// Messages that arrived on the ring socket without the shape of a ring message (an 8-byte
    /// generation tag and one or two more parts), dropped. Frames that have that shape but do not
    /// decode are counted by the link that received them (`ZeroMQRingLink.droppedFrames`).
    public var malformedRingMessages: Int { ringSockets.malformedMessages }

    /// Queues a control message (to `peer` on the coordinator; `peer` is ignored on a worker).
    public func sendControl(_ bytes: [UInt8], to peer: [UInt8] = []) {
        enqueue { loop in
            guard let socket = loop.controlSocket else { return }
            let parts = socket.kind == ZMQ_ROUTER ? [peer, bytes] : [bytes]
            loop.pendingControl.append(parts)
            loop.flush(socket, &loop.pendingControl)
        }
    }

    /// Closes every socket (bounded by the linger setting) and ends the thread. Idempotent.
    public func close() {
        commandLock.lock()
        let already = stopping
        stopping = true
        commandLock.unlock()
        if already { return }
        // The ring sockets and the ZAP handler first: the context ends only once every socket is closed.
        ringSockets.close()
        zapLock.withLock { zap?.stop() }
        wake()
        finished.wait()
        control.close()
    }

    deinit {
        Foundation.close(wakeRead)
        Foundation.close(wakeWrite)
    }

    // MARK: Plumbing

    private func enqueue(_ command: @escaping (SocketLoop) -> Void) {
        commandLock.lock()
        let accepted = !stopping
        if accepted { commands.append(command) }
        commandLock.unlock()
        if accepted { wake() }
    }

    /// Runs `body` on the socket thread and waits for its result.
    private func perform<T: Sendable>(_ body: @escaping (SocketLoop) throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<T, Error> = .failure(TransportError.closed)
        enqueue { loop in
            result = Result { try body(loop) }
            done.signal()
        }
        commandLock.lock()
        let stopped = stopping
        commandLock.unlock()
        if stopped { throw TransportError.closed }
        done.wait()
        return try result.get()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)  // a full pipe already guarantees a wake-up
    }

    private func drainWake() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    private func flush(_ socket: ZMQSocket, _ pending: inout [[[UInt8]]]) {
        while let parts = pending.first {
            do {
                if try socket.trySend(parts) { pending.removeFirst() } else { return }
            } catch {
                // EHOSTUNREACH: the peer is gone. The failure detector notices through heartbeats.
                unroutable += 1
                pending.removeFirst()
            }
        }
    }

    private func run() {
        while true {
            commandLock.lock()
            let batch = commands
            commands.removeAll()
            let stop = stopping
            commandLock.unlock()
            for command in batch { command(self) }
            if stop { break }

            var items: [zmq_pollitem_t] = [zmq_pollitem_t(socket: nil, fd: wakeRead, events: Int16(ZMQ_POLLIN), revents: 0)]
            var sockets: [ZMQSocket] = []
            if let socket = controlSocket, let handle = socket.handle {
                // A full inbox is not read: libzmq's own bounded queues, then the peers, wait.
                var events = control.isFull ? Int16(0) : Int16(ZMQ_POLLIN)
                if !pendingControl.isEmpty { events |= Int16(ZMQ_POLLOUT) }
                items.append(zmq_pollitem_t(socket: handle, fd: 0, events: events, revents: 0))
                sockets.append(socket)
            }
            let rc = zmq_poll(&items, Int32(items.count), 1000)
            if rc < 0 { continue }  // EINTR
            if items[0].revents != 0 { drainWake() }
            for (index, socket) in sockets.enumerated() where items[index + 1].revents != 0 {
                if !pendingControl.isEmpty { flush(socket, &pendingControl) }
                receiveAll(socket)
            }
        }
        controlSocket?.close()
        context.terminate()
        finished.signal()
    }

    private func receiveAll(_ socket: ZMQSocket) {
        while !(socket === controlSocket && control.isFull), let (parts, userID) = try? socket.tryReceiveWithUserID() {
            if socket === controlSocket {
                if socket.kind == ZMQ_ROUTER {
                    guard parts.count == 2 else { continue }  // malformed envelope: dropped
                    control.push(ControlFrame(peer: parts[0], bytes: parts[1], key: userID.flatMap(CurveKey.init(z85:))))
                } else {
                    guard parts.count == 1 else { continue }
                    // The envelope's generation sits at bytes 8..<16 (docs/wire-protocol.md).
                    if parts[0].count >= 16 {
                        let generation = parts[0].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
                        newestControlGeneration.update { $0 = max($0, generation) }
                    }
                    // The ring's allow-list changes as the announcement arrives, not when the
                    // process's loop (perhaps inside a step) reads it: a neighbour that dials
                    // first would be refused, and libzmq does not dial again after a refusal.
                    if security.isCurve, parts[0].count > 6, parts[0][6] == Wire.Kind.ringKeys.rawValue,
                       case .ringKeys(let announced)? = try? Wire.decode(parts[0]).1 {
                        ringMembers.value = Set(announced.members.compactMap { CurveKey(bytes: $0.key) })
                    }
                    control.push(ControlFrame(peer: [], bytes: parts[0]))
                }
            }
        }
    }
}

/// Frames set aside by one ring link for its successor. Guarded by its own lock.
final class HeldFrames: @unchecked Sendable {
    private let lock = NSLock()
    private var frames: [RingFrame] = []
    /// The most frames held: a peer that tags frames with ever newer generations (on a sealed
    /// ring's plain sockets, anyone who reaches the port) cannot grow this without bound.
    static let limit = 256

    func hold(_ frame: RingFrame) {
        lock.lock()
        if frames.count >= Self.limit { frames.removeFirst() }
        frames.append(frame)
        lock.unlock()
    }

    /// Removes and returns the oldest held frame of `generation`, dropping any of older generations.
    func take(generation: UInt64) -> (frame: RingFrame?, dropped: Int) {
        lock.lock()
        defer { lock.unlock() }
        let before = frames.count
        frames.removeAll { $0.generation < generation }
        let dropped = before - frames.count
        guard let index = frames.firstIndex(where: { $0.generation == generation }) else { return (nil, dropped) }
        return (frames.remove(at: index), dropped)
    }
}

/// How many payloads ring links have lent to libzmq and not had back, and what must stay alive
/// until they are all back. Guarded by its own condition.
public final class LendingLedger: @unchecked Sendable {
    private let condition = NSCondition()
    private var outstanding = 0
    private var kept: [Any] = []

    func lend() {
        condition.lock()
        outstanding += 1
        condition.unlock()
    }

    /// One payload is back (libzmq's I/O thread, or whoever dropped the frame). When none is
    /// lent any more, the storage kept for them is let go.
    func release() {
        condition.lock()
        outstanding -= 1
        let free = outstanding == 0 ? kept : []
        if outstanding == 0 { kept.removeAll() }
        condition.broadcast()
        condition.unlock()
        _ = free  // released here, outside the lock
    }

    /// Whether every lent payload is back by `deadline`.
    public func settle(until deadline: ContinuousClock.Instant) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while outstanding > 0 {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { return false }
            _ = condition.wait(until: Date().addingTimeInterval(min(left.inSeconds, 3600)))
        }
        return true
    }

    /// Keeps `storage` until every payload lent so far is back (at once if none is out).
    public func keep(_ storage: Any) {
        condition.lock()
        if outstanding > 0 { kept.append(storage) }
        condition.unlock()
    }
}
