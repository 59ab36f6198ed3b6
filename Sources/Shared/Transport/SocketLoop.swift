import CZeroMQ
import Collective
import Core
import Foundation

/// The one thread of a process that owns the ZeroMQ context and every socket.
///
/// libzmq sockets are not thread-safe. Other threads never touch them: they hand commands to this
/// thread through a queue and a wake-up pipe, and read what arrives from `control` and `ring`
/// queues. The thread polls its sockets and the pipe, sends what is queued (holding messages back
/// while a high-water mark is reached), and receives everything that is ready.
public final class SocketLoop: @unchecked Sendable {
    // Invariant: everything below marked "loop thread" is touched only on `thread`.
    public let settings: TransportSettings
    /// Control messages received (ROUTER on the coordinator, DEALER on a worker).
    public let control = BlockingQueue<ControlFrame>()
    /// Frames received on the ring socket.
    public let ring = BlockingQueue<RingFrame>()
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

    private let context = ZMQContext()
    private let commandLock = NSLock()
    private var commands: [(SocketLoop) -> Void] = []  // guarded by commandLock
    private var stopping = false  // guarded by commandLock
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    // Loop thread.
    private var controlSocket: ZMQSocket?
    private var ringIn: ZMQSocket?
    private var ringOut: ZMQSocket?
    private var ringOutEndpoint: String?
    private var pendingControl: [[[UInt8]]] = []
    private var pendingRing: [OutgoingRingFrame] = []
    /// Control messages addressed to a peer that is gone (ROUTER_MANDATORY), counted not thrown.
    private var unroutable = 0

    public init(settings: TransportSettings = TransportSettings()) {
        self.settings = settings
        // Received ring frames are libzmq allocations of a megabyte each: keep freed ones for
        // the next frames instead of faulting fresh pages in for every one.
        AllocatorPolicy.retainFreedMemory()
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe() failed: errno \(errno)")
        wakeRead = fds[0]
        wakeWrite = fds[1]
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "grove-sockets"
        self.thread = thread
        thread.start()
    }

    // MARK: Commands (any thread)

    /// Binds the coordinator's ROUTER control socket; returns the bound endpoint.
    public func bindControl(_ endpoint: String) throws -> String {
        try perform { loop in
            let socket = try ZMQSocket(loop.context, kind: ZMQ_ROUTER, lingerMillis: loop.settings.lingerMillis,
                                       highWaterMark: loop.settings.controlHighWaterMark, maxMessageBytes: loop.settings.maxControlBytes)
            try socket.set(ZMQ_ROUTER_MANDATORY, 1)
            let bound = try socket.bind(endpoint)
            loop.controlSocket = socket
            return bound
        }
    }

    /// Connects a worker's DEALER control socket to the coordinator.
    public func connectControl(_ endpoint: String) throws {
        try perform { loop in
            let socket = try ZMQSocket(loop.context, kind: ZMQ_DEALER, lingerMillis: loop.settings.lingerMillis,
                                       highWaterMark: loop.settings.controlHighWaterMark, maxMessageBytes: loop.settings.maxControlBytes)
            try socket.connect(endpoint)
            loop.controlSocket = socket
        }
    }

    /// Binds the ring's inbound socket (PULL) on `host` with a port the system picks.
    public func bindRing(host: String) throws -> String {
        try perform { loop in
            let socket = try ZMQSocket(loop.context, kind: ZMQ_PULL, lingerMillis: 0,
                                       highWaterMark: loop.settings.ringHighWaterMark, maxMessageBytes: loop.settings.maxRingBytes)
            let bound = try socket.bind("tcp://\(host):*")
            loop.ringIn = socket
            return bound
        }
    }

    /// Points the ring's outbound socket at the next member; a no-op when it already points there.
    /// Frames still queued for a previous neighbour are dropped.
    public func connectRing(next endpoint: String) throws {
        try perform { loop in
            if loop.ringOutEndpoint == endpoint { return }
            loop.ringOut?.close()
            loop.pendingRing.removeAll()
            let socket = try ZMQSocket(loop.context, kind: ZMQ_PUSH, lingerMillis: 0,
                                       highWaterMark: loop.settings.ringHighWaterMark, maxMessageBytes: loop.settings.maxRingBytes)
            try socket.connect(endpoint)
            socket.recycle = loop.ringFramePool
            loop.ringOut = socket
            loop.ringOutEndpoint = endpoint
        }
    }

    /// Queues a control message (to `peer` on the coordinator; `peer` is ignored on a worker).
    public func sendControl(_ bytes: [UInt8], to peer: [UInt8] = []) {
        enqueue { loop in
            guard let socket = loop.controlSocket else { return }
            let parts = socket.kind == ZMQ_ROUTER ? [peer, bytes] : [bytes]
            loop.pendingControl.append(parts)
            loop.flush(socket, &loop.pendingControl)
        }
    }

    /// Queues a ring frame for the next member, tagged with the sender's generation.
    public func sendRing(_ payload: [UInt8], generation: UInt64) {
        enqueue { loop in
            guard let socket = loop.ringOut else { return }
            let tag = withUnsafeBytes(of: generation.littleEndian) { Array($0) }
            loop.pendingRing.append(OutgoingRingFrame(tag: tag, payload: .bytes(payload)))
            loop.flushRing(socket)
        }
    }

    /// Queues a ring frame of `header` and a lent payload: libzmq sends the payload's bytes where
    /// they lie, and `lending` counts them as lent until it has (or the frame is dropped).
    public func sendRing(header: [UInt8], lending payload: UnsafeRawBufferPointer, generation: UInt64) {
        lending.lend()
        let lent = LentPayload(payload) { [lending] in lending.release() }
        enqueue { loop in
            guard let socket = loop.ringOut else { return }
            let tag = withUnsafeBytes(of: generation.littleEndian) { Array($0) }
            loop.pendingRing.append(OutgoingRingFrame(tag: tag, payload: .lentPayload(header, lent)))
            loop.flushRing(socket)
        }
    }

    /// Queues a received ring frame for the next member unchanged; libzmq sends its bytes
    /// without a copy and the frame is released once they are written.
    public func forwardRing(_ frame: ReceivedFrame, generation: UInt64) {
        enqueue { loop in
            guard let socket = loop.ringOut else { return }
            let tag = withUnsafeBytes(of: generation.littleEndian) { Array($0) }
            loop.pendingRing.append(OutgoingRingFrame(tag: tag, payload: .lent(frame)))
            loop.flushRing(socket)
        }
    }

    /// Closes every socket (bounded by the linger setting) and ends the thread. Idempotent.
    public func close() {
        commandLock.lock()
        let already = stopping
        stopping = true
        commandLock.unlock()
        if already { return }
        wake()
        finished.wait()
        control.close()
        ring.close()
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

    private func flushRing(_ socket: ZMQSocket) {
        while let next = pendingRing.first {
            do {
                let sent: Bool
                switch next.payload {
                case .bytes(let payload): sent = try socket.trySend([next.tag, payload])
                case .lent(let frame): sent = try socket.trySend(next.tag, lent: frame)
                case .lentPayload(let head, let payload): sent = try socket.trySend(next.tag, head: head, lent: payload)
                }
                if sent { pendingRing.removeFirst() } else { return }
            } catch {
                unroutable += 1
                pendingRing.removeFirst()
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
            for (socket, pending) in [(controlSocket, pendingControl.count), (ringIn, 0), (ringOut, pendingRing.count)] {
                guard let socket, let handle = socket.handle else { continue }
                var events = Int16(0)
                if socket.kind != ZMQ_PUSH { events |= Int16(ZMQ_POLLIN) }
                if pending > 0 { events |= Int16(ZMQ_POLLOUT) }
                if events == 0 { continue }
                items.append(zmq_pollitem_t(socket: handle, fd: 0, events: events, revents: 0))
                sockets.append(socket)
            }
            let rc = zmq_poll(&items, Int32(items.count), 1000)
            if rc < 0 { continue }  // EINTR
            if items[0].revents != 0 { drainWake() }
            for (index, socket) in sockets.enumerated() where items[index + 1].revents != 0 {
                if socket === ringOut { flushRing(socket); continue }
                if socket === controlSocket, !pendingControl.isEmpty { flush(socket, &pendingControl) }
                receiveAll(socket)
            }
        }
        for socket in [controlSocket, ringIn, ringOut] { socket?.close() }
        context.terminate()
        finished.signal()
    }

    private func receiveAll(_ socket: ZMQSocket) {
        if socket === ringIn {
            // The payload stays in libzmq's message until the collective has read it.
            // A frame is [generation tag, frame] or, when its payload was lent, [tag, header, payload].
            while let (parts, payload) = try? socket.tryReceiveLendingLast() {
                guard parts.count == 1 || parts.count == 2, parts[0].count == 8 else { continue }
                let generation = parts[0].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
                let frame = parts.count == 1 ? payload : payload.withHeadOf(parts[1])
                ring.push(RingFrame(generation: generation, payload: frame))
            }
            return
        }
        while let parts = try? socket.tryReceive() {
            if socket === controlSocket {
                if socket.kind == ZMQ_ROUTER {
                    guard parts.count == 2 else { continue }  // malformed envelope: dropped
                    control.push(ControlFrame(peer: parts[0], bytes: parts[1]))
                } else {
                    guard parts.count == 1 else { continue }
                    // The envelope's generation sits at bytes 8..<16 (docs/wire-protocol.md).
                    if parts[0].count >= 16 {
                        let generation = parts[0].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
                        newestControlGeneration.update { $0 = max($0, generation) }
                    }
                    control.push(ControlFrame(peer: [], bytes: parts[0]))
                }
            }
        }
    }
}

/// A ring frame waiting for the high-water mark: the generation tag and the payload.
struct OutgoingRingFrame {
    enum Payload {
        case bytes([UInt8])
        case lent(ReceivedFrame)
        /// A header and a payload lent by the sender's memory.
        case lentPayload([UInt8], LentPayload)
    }
    var tag: [UInt8]
    var payload: Payload
}

/// Errors of the transport shell itself.
public enum TransportError: GroveError {
    case closed
    public var code: String { "transport.closed" }
    public var message: String { "the socket thread has been closed" }
}

/// Frames set aside by one ring link for its successor. Guarded by its own lock.
final class HeldFrames: @unchecked Sendable {
    private let lock = NSLock()
    private var frames: [RingFrame] = []

    func hold(_ frame: RingFrame) {
        lock.lock()
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

    /// Payloads lent and not yet back.
    public var lent: Int {
        condition.lock()
        defer { condition.unlock() }
        return outstanding
    }
}
