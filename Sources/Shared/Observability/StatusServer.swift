import Core
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tiny HTTP/1.1 server for the run's status: GET (and HEAD) only, one request per connection
/// (`Connection: close`), routes registered as closures.
///
/// One accept thread polls the listening socket and a wake pipe (so `stop()` never waits on a
/// blocked `accept`); each connection gets its own short-lived thread with receive and send
/// timeouts. Bounded: at most `maxConnections` connections are served at once (others get 503
/// at once), a request head larger than `maxRequestBytes` gets 431, and a client whose head has
/// not arrived within `ioTimeout` gets 408. Handlers run on connection threads, so they must
/// only read thread-safe state (a `StatusBoard`, a `Locked` snapshot).
public final class StatusServer: Sendable {
    public struct Settings: Sendable {
        /// The longest request head accepted, in bytes. Default 8 KiB.
        public var maxRequestBytes = 8 * 1024
        /// Connections served at once; more are answered 503. Default 16.
        public var maxConnections = 16
        /// How long a client has to send its request head, and the longest a send may block.
        /// Default 5 s.
        public var ioTimeout: Duration = .seconds(5)

        public init() {}

        public func validate() throws {
            guard (256...1 << 20).contains(maxRequestBytes) else {
                throw ObservabilityError(.invalidSetting, "maxRequestBytes = \(maxRequestBytes) is outside 256...1048576")
            }
            guard (1...1024).contains(maxConnections) else {
                throw ObservabilityError(.invalidSetting, "maxConnections = \(maxConnections) is outside 1...1024")
            }
            guard ioTimeout > .zero, ioTimeout <= .seconds(300) else {
                throw ObservabilityError(.invalidSetting, "ioTimeout = \(ioTimeout) is not in (0, 300] seconds")
            }
        }
    }

    /// Answers one request. Runs on a connection thread.
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    public let host: String
    /// The port the server listens on: the one asked for, or the one the kernel picked for 0.
    public let port: UInt16
    public let settings: Settings

    private let listener: Int32
    /// `wake[0]` is polled beside the listener; writing to `wake[1]` stops the accept loop.
    private let wake: (Int32, Int32)
    private let routes = Mutex<[String: Handler]>([:])
    /// Tokens a request must present; nil: none needed (`requireTokens`).
    private let access = Mutex<StatusAccess?>(nil)
    private let refused = Mutex(RefusalLog())
    private let onRefused = Mutex<(@Sendable (_ address: String, _ unlogged: Int) -> Void)?>(nil)
    private let lifecycle = Mutex(Lifecycle())
    /// Left by the accept thread when it returns.
    private let acceptDone = DispatchGroup()
    /// Left by each connection thread when it returns.
    private let finished = DispatchGroup()

    private struct Lifecycle {
        var started = false
        var stopped = false
        var active = 0
        var listenerClosed = false
    }

    /// Binds and listens at once (so `port` is known and a busy port fails here), but serves
    /// nothing until `start()`.
    ///
    /// - Parameters:
    ///   - host: an IPv4 address; `127.0.0.1` (the default) keeps the page on this machine,
    ///     `0.0.0.0` exposes it to the network (it has no authentication: it is read-only).
    ///   - port: the TCP port, or 0 for any free port (read it back from `port`).
    public init(host: String = "127.0.0.1", port: UInt16 = 0, settings: Settings = Settings()) throws {
        try settings.validate()
        self.host = host
        self.settings = settings
        (listener, self.port) = try Socket.makeListener(host: host, port: port, backlog: Int32(settings.maxConnections * 2))
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            close(listener)
            throw ObservabilityError(.socket, "pipe for the status server on \(host):\(port) failed: errno \(errno)")
        }
        wake = (fds[0], fds[1])
    }

    deinit {
        stop()
        close(wake.0)
        close(wake.1)
    }

    /// The base URL, e.g. `http://127.0.0.1:40117`.
    public var url: String { "http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(port)" }

    /// From now on every request must carry `Authorization: Bearer` with one of `access`'s
    /// tokens; the others get 401 "not authorized", are counted (`refusedRequests`) and are
    /// passed to `onRefused` at most once per client address a minute.
    public func requireTokens(_ access: StatusAccess, onRefused: (@Sendable (_ address: String, _ unlogged: Int) -> Void)? = nil) {
        self.access.withLock { $0 = access }
        self.onRefused.withLock { $0 = onRefused }
    }

    /// Requests refused for want of a valid token.
    public var refusedRequests: Int { refused.withLock { $0.total } }

    /// Serves `path` (exact match, without the query) with `handler`; replaces an earlier route.
    public func route(_ path: String, _ handler: @escaping Handler) {
        routes.withLock { $0[path] = handler }
    }

    /// Starts the accept thread. Calling it again, or after `stop()`, does nothing.
    public func start() {
        let go = lifecycle.withLock { state -> Bool in
            guard !state.started, !state.stopped else { return false }
            state.started = true
            return true
        }
        guard go else { return }
        acceptDone.enter()
        let thread = Thread { [self] in
            acceptLoop()
            acceptDone.leave()
        }
        thread.name = "grove-status-accept"
        thread.start()
    }

    /// Stops accepting and closes the port, then waits (up to `ioTimeout`) for connections
    /// being served to end. Safe to call more than once, and before `start()`.
    public func stop() {
        let (wasRunning, mustClose) = lifecycle.withLock { state -> (Bool, Bool) in
            defer { state.stopped = true; state.listenerClosed = true }
            return (state.started && !state.stopped, !state.listenerClosed)
        }
        if wasRunning {
            var byte: UInt8 = 1
            _ = write(wake.1, &byte, 1)
            _ = acceptDone.wait(timeout: .now() + .seconds(2))
        }
        if mustClose { close(listener) }
        if wasRunning {
            _ = finished.wait(timeout: .now() + .milliseconds(Int(settings.ioTimeout.inSeconds * 1000) + 1000))
        }
    }

    /// Connections being served right now.
    public var activeConnections: Int { lifecycle.withLock { $0.active } }

    private func acceptLoop() {
        var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.0, events: Int16(POLLIN), revents: 0)]
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            guard (try? Socket.call("poll", { Int(poll(&fds, 2, -1)) })) != nil else { return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            // A failed accept (the client already gone, out of descriptors) skips that connection;
            // the pause keeps a persistent failure such as EMFILE from spinning this thread.
            guard let accepted = try? Socket.call("accept", { Int(accept(listener, nil, nil)) }) else {
                usleep(10_000)
                continue
            }
            let connection = Int32(accepted)
            let admitted = lifecycle.withLock { state -> Bool in
                guard state.active < settings.maxConnections else { return false }
                state.active += 1
                return true
            }
            guard admitted else {
                // Refused on the accept thread, so the send must not block it for long.
                try? Socket.setTimeouts(connection, seconds: 0.1)
                _ = Socket.sendAll(connection, HTTPResponse.plain("too many connections", status: 503).serialized())
                close(connection)
                continue
            }
            finished.enter()
            let thread = Thread { [self] in
                serve(connection)
                close(connection)
                lifecycle.withLock { $0.active -= 1 }
                finished.leave()
            }
            thread.name = "grove-status-connection"
            thread.start()
        }
    }

    private func serve(_ connection: Int32) {
        // The whole head must arrive within ioTimeout, not just each piece of it: a client that
        // trickles a byte at a time cannot hold a connection slot for longer.
        let deadline = ContinuousClock.now + settings.ioTimeout
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let left = ContinuousClock.now.duration(to: deadline).inSeconds
            guard left > 0, (try? Socket.setTimeouts(connection, seconds: max(left, 0.001))) != nil else {
                respond(connection, HTTPResponse.plain("request timed out", status: 408), includeBody: true)
                return
            }
            let received = try? chunk.withUnsafeMutableBytes { raw in
                try Socket.call("recv") { recv(connection, raw.baseAddress, raw.count, 0) }
            }
            guard let count = received else {
                if !buffer.isEmpty { respond(connection, HTTPResponse.plain("request timed out", status: 408), includeBody: true) }
                return
            }
            if count == 0 {
                if !buffer.isEmpty { respond(connection, HTTPResponse.plain("incomplete request", status: 400), includeBody: true) }
                return
            }
            buffer.append(contentsOf: chunk[..<count])
            let parsed = HTTPRequest.parse(buffer)
            if case .complete(let request, let consumed) = parsed, consumed <= settings.maxRequestBytes {
                if let access = access.withLock({ $0 }), !access.allows(request) {
                    let address = Socket.peerAddress(connection)
                    let unlogged = refused.withLock { $0.onRefused(peer: address, reason: "no valid token", now: .now) }
                    if let unlogged, let report = onRefused.withLock({ $0 }) { report(address, unlogged) }
                    respond(connection, HTTPResponse(status: 401, contentType: "text/plain; charset=utf-8", text: "not authorized\n",
                                                     headers: ["WWW-Authenticate": "Bearer"]), includeBody: request.method != "HEAD")
                    return
                }
                respond(connection, answer(request), includeBody: request.method != "HEAD")
                return
            }
            if case .invalid(let reason) = parsed {
                respond(connection, HTTPResponse.plain("bad request: \(reason)", status: 400), includeBody: true)
                return
            }
            if buffer.count >= settings.maxRequestBytes {
                respond(connection, HTTPResponse.plain("request head exceeds \(settings.maxRequestBytes) bytes", status: 431), includeBody: true)
                return
            }
        }
    }

    /// The response to a parsed request: the route's, or 404/405.
    func answer(_ request: HTTPRequest) -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else {
            return HTTPResponse(status: 405, contentType: "text/plain; charset=utf-8",
                                text: "method \(request.method) is not allowed; this server is read-only\n", headers: ["Allow": "GET, HEAD"])
        }
        guard let handler = routes.withLock({ $0[request.path] }) else {
            return HTTPResponse.plain("no route for \(request.path)", status: 404)
        }
        return handler(request)
    }

    private func respond(_ connection: Int32, _ response: HTTPResponse, includeBody: Bool) {
        _ = Socket.sendAll(connection, response.serialized(includeBody: includeBody))
        // Half-close, then read what the client still sends (briefly, and a bounded amount):
        // closing with unread input makes the kernel send a reset, which can destroy the response
        // before the client has read it (an oversized request, a body after a refused POST).
        shutdown(connection, Int32(SHUT_WR))
        try? Socket.setTimeouts(connection, seconds: 0.2)
        var sink = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 {
            let count = sink.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
        }
    }
}
