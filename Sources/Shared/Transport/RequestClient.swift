import CZeroMQ
import Core
import Foundation

/// A DEALER socket on a thread of its own through which any number of threads make requests and
/// wait for their replies: a worker's side of the sample channel, called from the input
/// pipeline's reading threads.
///
/// Each request carries an id that its reply repeats (`replyID` reads it from a reply); a reply
/// nobody waits for any more (its caller timed out) is dropped. Replies larger than
/// `maxReplyBytes` make libzmq drop the connection (and reconnect): the callers time out, no
/// allocation follows the peer's word.
///
/// `@unchecked Sendable`: the socket is touched only on the client's thread; the queues and
/// waiters are guarded by `lock`.
public final class RequestClient: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        public var maxReplyBytes: Int64 = 256 << 20
        public var lingerMillis: Int32 = 0
        public var highWaterMark: Int32 = 256
        public init() {}
    }

    /// The endpoint dialled.
    public let endpoint: String
    private let lock = NSLock()
    // Guarded by `lock`.
    private var outgoing: [[UInt8]] = []
    private var waiters: [UInt64: Waiter] = [:]
    private var stopping = false
    private var unexpected = 0

    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let finished = DispatchSemaphore(value: 0)

    private final class Waiter: @unchecked Sendable {
        // Written once on the client thread under the client's lock, read by the caller under it.
        let semaphore = DispatchSemaphore(value: 0)
        var reply: [UInt8]?
    }

    /// Connects to `endpoint` (libzmq connects in the background and reconnects by itself).
    ///
    /// - Parameters:
    ///   - origin: where the address came from, for errors.
    ///   - replyID: the request id a reply answers, or nil for a reply that cannot be one.
    ///   - security: under CURVE, the client's key pair and the server's public key.
    public init(connect endpoint: Endpoint, origin: String, settings: Settings = Settings(), security: TransportSecurity = .none,
                replyID: @escaping @Sendable ([UInt8]) -> UInt64?) throws {
        self.endpoint = endpoint.description
        var client: (CurveKeyPair, CurveKey)?
        if let curve = security.curve {
            guard let key = curve.serverKey else {
                throw SecurityError(code: "security.no-server-key", "cannot dial \(endpoint) (\(origin)) with CURVE: the server's public key is not known")
            }
            client = (curve.identity, key)
        }
        let context = ZMQContext()
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket.connected(context, kind: ZMQ_DEALER, endpoint: endpoint, origin: origin,
                                             lingerMillis: settings.lingerMillis, highWaterMark: settings.highWaterMark,
                                             maxMessageBytes: settings.maxReplyBytes) { socket throws(ZMQError) in
                if let (identity, key) = client { try socket.makeCurveClient(identity, serverKey: key) }
            }
        } catch {
            context.terminate()
            throw error
        }
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe() failed: errno \(errno)")
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let owned = ClientSocket(socket: socket, context: context)
        let thread = Thread { [unowned self] in
            self.run(owned.socket, replyID: replyID)
            owned.socket.close()
            owned.context.terminate()
            self.finished.signal()
        }
        thread.name = "grove-sample-client"
        thread.start()
    }

    deinit {
        Foundation.close(wakeRead)
        Foundation.close(wakeWrite)
    }

    /// Sends `request` and waits up to `timeout` for the reply with id `id`; nil when none came.
    public func call(_ request: [UInt8], id: UInt64, timeout: Duration) -> [UInt8]? {
        let waiter = Waiter()
        let accepted: Bool = lock.withLock {
            guard !stopping else { return false }
            waiters[id] = waiter
            outgoing.append(request)
            return true
        }
        guard accepted else { return nil }
        wake()
        _ = waiter.semaphore.wait(timeout: .now() + .nanoseconds(Int(min(timeout.inSeconds, 86_400) * 1e9)))
        return lock.withLock {
            waiters[id] = nil
            return waiter.reply
        }
    }

    /// Replies that matched no waiting request (late, repeated, or not replies at all).
    public var unexpectedReplies: Int { lock.withLock { unexpected } }

    /// Stops the thread and closes the socket; waiting callers get nil. Idempotent.
    public func close() {
        let already: Bool = lock.withLock {
            defer { stopping = true }
            return stopping
        }
        if already { return }
        wake()
        finished.wait()
        lock.withLock {
            for waiter in waiters.values { waiter.semaphore.signal() }
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)  // a full pipe already guarantees a wake-up
    }

    private func run(_ socket: ZMQSocket, replyID: @Sendable ([UInt8]) -> UInt64?) {
        var queued: [[UInt8]] = []
        var drain = [UInt8](repeating: 0, count: 256)
        while true {
            let stop: Bool = lock.withLock {
                queued += outgoing
                outgoing.removeAll()
                return stopping
            }
            if stop { return }
            while let next = queued.first, (try? socket.trySend([next])) == true { queued.removeFirst() }
            var items = [zmq_pollitem_t(socket: nil, fd: wakeRead, events: Int16(ZMQ_POLLIN), revents: 0),
                         zmq_pollitem_t(socket: socket.handle, fd: 0,
                                        events: Int16(ZMQ_POLLIN) | (queued.isEmpty ? 0 : Int16(ZMQ_POLLOUT)), revents: 0)]
            if zmq_poll(&items, 2, 1000) < 0 { continue }  // EINTR
            if items[0].revents != 0 { while read(wakeRead, &drain, drain.count) > 0 {} }
            while let parts = try? socket.tryReceive() {
                let id = parts.count == 1 ? replyID(parts[0]) : nil
                lock.withLock {
                    if let id, let waiter = waiters[id], waiter.reply == nil {
                        waiter.reply = parts[0]
                        waiter.semaphore.signal()
                    } else {
                        unexpected += 1
                    }
                }
            }
        }
    }
}

/// The client's socket and context, handed to its thread. `@unchecked Sendable`: only that thread
/// touches them after `init`.
private final class ClientSocket: @unchecked Sendable {
    let socket: ZMQSocket
    let context: ZMQContext
    init(socket: ZMQSocket, context: ZMQContext) {
        self.socket = socket
        self.context = context
    }
}
