import CZeroMQ
import Core
import Foundation

/// A ROUTER socket on a thread and a libzmq context of its own that answers each request with
/// one reply: the coordinator's sample server. Nothing it does waits on, or is waited on by, the
/// process's control loop.
///
/// Each peer's replies go out at most at `bytesPerSecondPerPeer` (a token bucket per peer): a
/// reply is computed when its request arrives and sent when the peer's bucket allows. Replies
/// waiting to go are bounded in bytes: past `maxPendingBytes` the thread stops reading requests
/// (libzmq's bounded queues and then the peers wait), and a peer already holding
/// `maxPendingBytesPerPeer` has further requests dropped (it asks again after its timeout), so one
/// peer that does not read cannot hold the others up for long. A reply that cannot be delivered
/// within `replyTimeout` of its time is dropped.
///
/// `@unchecked Sendable`: the socket and the queues are touched only on the server's thread; other
/// threads see the `Locked` statistics and the stop flag.
public final class ReplyServer: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        /// Bytes per second each peer may receive, > 0.
        public var bytesPerSecondPerPeer: Double = 128 * 1_048_576
        /// Bytes a peer idle for a while may receive at once.
        public var burstBytes = 4 << 20
        /// Replies waiting for their time or for the socket, in bytes, before no request is read.
        public var maxPendingBytes = 64 << 20
        /// Replies one peer may have waiting before its further requests are dropped.
        public var maxPendingBytesPerPeer = 16 << 20
        /// The largest request (ZMQ_MAXMSGSIZE): a peer that sends a larger one is disconnected.
        public var maxRequestBytes: Int64 = 16 << 10
        public var replyTimeout: Duration = .seconds(30)
        public var lingerMillis: Int32 = 200
        public var highWaterMark: Int32 = 256
        public init() {}

        public func validate() throws(TransportError) {
            guard bytesPerSecondPerPeer > 0, bytesPerSecondPerPeer.isFinite, burstBytes > 0, maxPendingBytes > 0,
                  maxPendingBytesPerPeer > 0, maxRequestBytes > 0 else {
                throw .settings("reply server: rate \(bytesPerSecondPerPeer) B/s, burst \(burstBytes) B and the byte limits must be positive")
            }
        }
    }

    public struct Statistics: Sendable, Equatable {
        public var requests = 0
        public var replies = 0
        public var replyBytes = 0
        /// Requests dropped because their peer already had too much waiting.
        public var droppedRequests = 0
        /// Replies dropped: undeliverable within `replyTimeout`, or the peer was gone.
        public var droppedReplies = 0
        /// Malformed envelopes (not a routing id and one part).
        public var malformed = 0
    }

    /// The bound endpoint (with the port the system picked for port 0).
    public let endpoint: String
    public let settings: Settings
    private let stats = Locked(Statistics())
    private let stopping = Locked(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Binds `endpoint` and starts serving; `handler` runs on the server's thread, one request at a
    /// time, and returns the reply's bytes (nil: no reply).
    ///
    /// - Parameters:
    ///   - origin: where the address came from, for errors (`dataset.serve_port`).
    ///   - security: under CURVE the server admits only the keys `authorized` lists, like the
    ///     control socket; refusals are counted in `refusals` and logged through `onRefused`.
    public init(bind endpoint: Endpoint, origin: String, settings: Settings = Settings(), security: TransportSecurity = .none,
                refusals: Locked<RefusalLog> = Locked(RefusalLog()),
                onRefused: @escaping @Sendable (_ address: String, _ domain: String, _ reason: String, _ unlogged: Int) -> Void = { _, _, _, _ in },
                handler: @escaping @Sendable ([UInt8]) -> [UInt8]?) throws {
        try settings.validate()
        self.settings = settings
        let context = ZMQContext()
        let socket: ZMQSocket
        var zap: ZAPHandler?
        do {
            if let curve = security.curve {
                guard let authorized = curve.authorized else {
                    throw SecurityError(code: "security.no-authorized-keys", "the sample server needs the authorized keys under CURVE")
                }
                // Before the bind: without a handler libzmq would admit any client.
                zap = try ZAPHandler(context: context, refusals: refusals, policy: { request in
                    guard let key = request.key else { return .refuse(reason: "no key") }
                    return authorized.allows(key) ? .allow(userID: key.z85) : .refuse(reason: "key \(key.z85) is not authorized")
                }, onRefused: onRefused)
            }
            (socket, self.endpoint) = try ZMQSocket.bound(
                context, kind: ZMQ_ROUTER, endpoint: endpoint, origin: origin, lingerMillis: settings.lingerMillis,
                highWaterMark: settings.highWaterMark, maxMessageBytes: settings.maxRequestBytes) { socket throws(ZMQError) in
                if let curve = security.curve { try socket.makeCurveServer(curve.identity, domain: ZAPDomain.samples) }
            }
            try socket.set(ZMQ_ROUTER_MANDATORY, 1)
        } catch {
            zap?.stop()
            context.terminate()
            throw error
        }
        let owned = ThreadOwned(ServerLoop(socket: socket, settings: settings, stats: stats, handler: handler), context: context)
        let thread = Thread { [stopping, finished, zap] in
            owned.loop.run(until: stopping)
            owned.loop.socket.close()
            zap?.stop()
            owned.context.terminate()
            finished.signal()
        }
        thread.name = "grove-sample-server"
        thread.start()
    }

    public var statistics: Statistics { stats.value }

    /// Stops serving and closes the socket (bounded by the linger setting). Idempotent.
    public func close() {
        let already = stopping.update { stop -> Bool in
            defer { stop = true }
            return stop
        }
        if !already { finished.wait() }
    }
}

/// Hands the loop to its thread. `@unchecked Sendable`: only that thread touches it after `init`.
private final class ThreadOwned: @unchecked Sendable {
    var loop: ServerLoop
    let context: ZMQContext
    init(_ loop: ServerLoop, context: ZMQContext) {
        self.loop = loop
        self.context = context
    }
}

/// The server thread's state.
private struct ServerLoop {
    struct Pending {
        var peer: [UInt8]
        var bytes: [UInt8]
        var due: ContinuousClock.Instant
    }

    let socket: ZMQSocket
    let settings: ReplyServer.Settings
    let stats: Locked<ReplyServer.Statistics>
    let handler: @Sendable ([UInt8]) -> [UInt8]?
    var pending: [Pending] = []
    var pendingBytes = 0
    var perPeer: [[UInt8]: Int] = [:]
    var buckets: [[UInt8]: TokenBucket] = [:]

    init(socket: ZMQSocket, settings: ReplyServer.Settings, stats: Locked<ReplyServer.Statistics>,
         handler: @escaping @Sendable ([UInt8]) -> [UInt8]?) {
        self.socket = socket
        self.settings = settings
        self.stats = stats
        self.handler = handler
    }

    mutating func run(until stopping: Locked<Bool>) {
        while !stopping.value {
            let now = ContinuousClock.now
            // Sleep until the next reply is due, and at most 100 ms (to see a stop).
            var wait = 100
            if let next = pending.map(\.due).min() {
                wait = min(wait, max(0, Int((now.duration(to: next).inSeconds * 1000).rounded(.up))))
            }
            var events = pendingBytes < settings.maxPendingBytes ? Int16(ZMQ_POLLIN) : 0
            if pending.contains(where: { $0.due <= now }) { events |= Int16(ZMQ_POLLOUT) }
            var item = zmq_pollitem_t(socket: socket.handle, fd: 0, events: events, revents: 0)
            if zmq_poll(&item, 1, events & Int16(ZMQ_POLLOUT) != 0 ? 0 : wait) < 0 { continue }  // EINTR
            if item.revents & Int16(ZMQ_POLLIN) != 0 { receive() }
            send(now: .now)
        }
    }

    mutating func receive() {
        while pendingBytes < settings.maxPendingBytes, let parts = try? socket.tryReceive() {
            guard parts.count == 2 else {
                stats.update { $0.malformed += 1 }
                continue
            }
            let peer = parts[0]
            stats.update { $0.requests += 1 }
            guard perPeer[peer, default: 0] < settings.maxPendingBytesPerPeer else {
                stats.update { $0.droppedRequests += 1 }
                continue
            }
            guard let reply = handler(parts[1]) else { continue }
            let now = ContinuousClock.now
            var bucket = buckets[peer] ?? TokenBucket(rate: settings.bytesPerSecondPerPeer, burst: Double(settings.burstBytes), now: now)
            let due = bucket.reserve(reply.count, now: now)
            buckets[peer] = bucket
            pending.append(Pending(peer: peer, bytes: reply, due: due))
            pendingBytes += reply.count
            perPeer[peer, default: 0] += reply.count
        }
        if buckets.count > 4096 {
            // Forget peers that have been idle long enough to have a full bucket again.
            let now = ContinuousClock.now
            buckets = buckets.filter { var bucket = $0.value; return !bucket.isIdle(now: now) }
        }
    }

    mutating func send(now: ContinuousClock.Instant) {
        var index = 0
        while index < pending.count {
            let reply = pending[index]
            guard reply.due <= now else { index += 1; continue }
            var sent = false, gone = false
            do { sent = try socket.trySend([reply.peer, reply.bytes]) } catch { gone = true }  // EHOSTUNREACH: the peer left
            let late = reply.due.duration(to: now) > settings.replyTimeout
            guard sent || gone || late else { index += 1; continue }
            pending.remove(at: index)
            pendingBytes -= reply.bytes.count
            perPeer[reply.peer, default: 0] -= reply.bytes.count
            if perPeer[reply.peer] == 0 { perPeer[reply.peer] = nil }
            stats.update {
                if sent {
                    $0.replies += 1
                    $0.replyBytes += reply.bytes.count
                } else {
                    $0.droppedReplies += 1
                }
            }
        }
    }
}
