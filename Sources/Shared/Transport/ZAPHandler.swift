import CZeroMQ
import Core
import Foundation

/// The ZeroMQ authentication handler (ZAP, RFC 27) of one libzmq context: every CURVE handshake
/// on a server socket of that context is decided here, by `policy`, before the peer can send or
/// receive a single message.
///
/// libzmq asks the handler over an inproc REP socket at `inproc://zeromq.zap.01`. Without a
/// handler, libzmq 4.3 admits every CURVE client that knows the server's public key: the handler
/// must therefore exist before any server socket of the context is bound (`SocketLoop` and
/// `ReplyServer` start it first).
///
/// A refused peer learns only "not authorized" (the ZAP status text libzmq passes on); why it was
/// refused is counted here (`refusals`) and logged through `onRefused`, at most once per peer
/// address per minute (`RefusalLog`).
///
/// `@unchecked Sendable`: the socket is touched only on the handler's thread after `init`.
final class ZAPHandler: @unchecked Sendable {
    /// One handshake to decide.
    struct Request: Sendable {
        /// The socket's `ZMQ_ZAP_DOMAIN`: which endpoint the peer dialled (`control`, `ring`, `samples`).
        var domain: String
        /// The peer's IP address.
        var address: String
        /// The client's long-term public key (CURVE only).
        var key: CurveKey?
        var mechanism: String
    }

    /// Admit (with the user id libzmq attaches to the peer's messages) or refuse (with why, for
    /// the log and the counters; the peer is told only "not authorized").
    enum Decision: Sendable, Equatable {
        case allow(userID: String)
        case refuse(reason: String)
    }

    static let endpoint = "inproc://zeromq.zap.01"

    private let socket: ZMQSocket
    private let stopping = Locked(false)
    private let finished = DispatchSemaphore(value: 0)
    let refusals: Locked<RefusalLog>

    /// Binds the handler's socket on `context` and starts its thread.
    ///
    /// - Parameters:
    ///   - policy: decides each handshake; runs on the handler's thread.
    ///   - onRefused: a refusal to log: the peer's address, why, and how many of its refusals
    ///     were not logged since its last line.
    init(context: ZMQContext, refusals: Locked<RefusalLog> = Locked(RefusalLog()),
         policy: @escaping @Sendable (Request) -> Decision,
         onRefused: @escaping @Sendable (_ address: String, _ domain: String, _ reason: String, _ unlogged: Int) -> Void) throws {
        self.refusals = refusals
        socket = try ZMQSocket(context, kind: ZMQ_REP, lingerMillis: 0, highWaterMark: 1000, maxMessageBytes: 4096)
        do throws(ZMQError) {
            _ = try socket.bind(Self.endpoint)
        } catch {
            socket.close()
            throw error
        }
        let owned = HandlerSocket(socket)
        let thread = Thread { [stopping, finished, refusals] in
            Self.serve(owned.socket, until: stopping, refusals: refusals, policy: policy, onRefused: onRefused)
            owned.socket.close()
            finished.signal()
        }
        thread.name = "grove-zap"
        thread.start()
    }

    /// Stops the thread and closes the socket (before the context is terminated). Idempotent.
    func stop() {
        let already = stopping.update { stop -> Bool in
            defer { stop = true }
            return stop
        }
        if !already { finished.wait() }
    }

    private static func serve(_ socket: ZMQSocket, until stopping: Locked<Bool>, refusals: Locked<RefusalLog>,
                              policy: @Sendable (Request) -> Decision,
                              onRefused: @Sendable (String, String, String, Int) -> Void) {
        while !stopping.value {
            var item = zmq_pollitem_t(socket: socket.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
            if zmq_poll(&item, 1, 100) <= 0 { continue }
            while let parts = try? socket.tryReceive() {
                let reply = answer(parts, refusals: refusals, policy: policy, onRefused: onRefused)
                _ = try? socket.trySend(reply)
            }
        }
    }

    /// The reply to one request: version, request id, status code, status text, user id, metadata.
    static func answer(_ parts: [[UInt8]], refusals: Locked<RefusalLog>, policy: (Request) -> Decision,
                       onRefused: (String, String, String, Int) -> Void) -> [[UInt8]] {
        let text = { (bytes: [UInt8]) in String(decoding: bytes, as: UTF8.self) }
        // version, request id, domain, address, routing id, mechanism, credentials…
        guard parts.count >= 6, text(parts[0]) == "1.0" else {
            return [Array("1.0".utf8), parts.count > 1 ? parts[1] : [], Array("500".utf8), Array("malformed request".utf8), [], []]
        }
        let mechanism = text(parts[5])
        let request = Request(domain: text(parts[2]), address: text(parts[3]),
                              key: mechanism == "CURVE" && parts.count >= 7 ? CurveKey(bytes: parts[6]) : nil, mechanism: mechanism)
        let decision: Decision = mechanism == "CURVE" ? policy(request) : .refuse(reason: "mechanism \(LogText.escape(mechanism, limit: 16))")
        switch decision {
        case .allow(let userID):
            return [Array("1.0".utf8), parts[1], Array("200".utf8), Array("OK".utf8), Array(userID.utf8), []]
        case .refuse(let reason):
            let unlogged = refusals.update { $0.onRefused(peer: request.address, reason: reason, now: .now) }
            if let unlogged { onRefused(request.address, request.domain, reason, unlogged) }
            return [Array("1.0".utf8), parts[1], Array("400".utf8), Array("not authorized".utf8), [], []]
        }
    }
}

/// The handler's socket, handed to its thread.
private final class HandlerSocket: @unchecked Sendable {
    let socket: ZMQSocket
    init(_ socket: ZMQSocket) { self.socket = socket }
}
