import CZeroMQ
import Core
import Foundation
import Wire

/// A process's state server: serves the training state it publishes, range by range, on a
/// ROUTER socket of its own, from a thread of its own, so that moving a large state never holds up
/// the control loop or the ring.
///
/// It answers only `stateFetch` requests that carry a token the coordinator granted (`grant`),
/// with the generation the grant was given in (one the owner has seen), for the granted step. A grant
/// keeps the state of its step served (pinned) even after the owner publishes a newer one, until
/// it has been idle for `Settings.grantIdle`; at most `Settings.maxGrants` grants are kept (the
/// oldest goes first), which bounds the memory pinned states can hold.
///
/// `@unchecked Sendable`: the socket is used only on `thread`; `published` and `grants` are guarded
/// by `lock`; the hash cache is used only on `thread`.
public final class StateServer: @unchecked Sendable {
    public struct Settings: Sendable {
        /// How long a grant keeps its state pinned without a request.
        public var grantIdle: Duration = .seconds(30)
        public var maxGrants = 4
        public var lingerMillis: Int32 = 0
        /// Answers queued per fetcher: above the largest window a fetcher may keep out (64).
        public var highWaterMark: Int32 = 80
        public init() {}
    }

    struct Grant {
        var token: [UInt8]
        var step: UInt64
        var generation: UInt64
        var image: StateImage?
        var lastUsed: ContinuousClock.Instant
    }

    public let settings: Settings
    /// The endpoint the socket is bound to (`tcp://127.0.0.1:40123`).
    public let endpoint: String
    private let context = ZMQContext()
    private let socket: ZMQSocket
    private let currentGeneration: @Sendable () -> UInt64
    /// Under CURVE: the handler that admits fetchers' keys (`admits`), stopped before the context.
    private var zap: ZAPHandler?
    private let lock = NSLock()
    private var published: StateImage?  // lock
    /// States published with `keep`, served to a grant that comes after a newer publish (the
    /// coordinator grants a checkpoint's state once the step has committed, and the owner may have
    /// committed the next one by then); at most two, each until `grantIdle` has passed.
    private var kept: [(image: StateImage, since: ContinuousClock.Instant)] = []  // lock
    private var grants: [Grant] = []  // lock
    private var stopping = false  // lock
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    /// SHA-256 of states already hashed, by step and size (server thread).
    private var hashes: [String: [UInt8]] = [:]
    private let counters = Locked(Counters())
    /// Test hook: what a broken or hostile server does to the chunks it serves.
    enum Tamper: Sendable, Equatable { case none, corrupt, truncate, silentAfter(chunks: Int) }
    var tamper = Tamper.none

    /// What the server did, for the log and the tests.
    public struct Counters: Sendable, Equatable {
        public var chunks = 0
        public var bytes = 0
        public var refused = 0
        public var malformed = 0
    }

    /// Binds on `host` at a port the system picks and starts serving.
    ///
    /// - Parameters:
    ///   - origin: where the host came from, for errors (`workers.bind`, `--bind`).
    ///   - currentGeneration: the generation the owner believes current; requests of an older
    ///     one are refused.
    ///   - security: under CURVE the server uses this process's key pair, and its ZAP handler
    ///     admits the fetchers whose keys `admits` accepts (the coordinator's authorized keys;
    ///     on a worker, the coordinator and the members it announced); refusals are counted in
    ///     `refusals` and logged through `onRefused`.
    public init(host: String, origin: String, settings: Settings = Settings(), security: TransportSecurity = .none,
                admits: @escaping @Sendable (CurveKey) -> Bool = { _ in false }, refusals: Locked<RefusalLog> = Locked(RefusalLog()),
                onRefused: @escaping @Sendable (_ address: String, _ domain: String, _ reason: String, _ unlogged: Int) -> Void = { _, _, _, _ in },
                currentGeneration: @escaping @Sendable () -> UInt64) throws {
        self.settings = settings
        self.currentGeneration = currentGeneration
        let endpoint: Endpoint
        do { endpoint = try Endpoint(host: host, port: nil) } catch {
            throw EndpointError(value: host, origin: origin, problem: error.problem)
        }
        if security.isCurve {
            // Before the bind: without a handler libzmq would admit any client.
            zap = try ZAPHandler(context: context, refusals: refusals, policy: { request in
                guard let key = request.key else { return .refuse(reason: "no key") }
                return admits(key) ? .allow(userID: key.z85) : .refuse(reason: "key \(key.z85) may not fetch states here")
            }, onRefused: onRefused)
        }
        let identity = security.curve?.identity
        let (socket, bound): (ZMQSocket, String)
        do {
            (socket, bound) = try ZMQSocket.bound(context, kind: ZMQ_ROUTER, endpoint: endpoint, origin: origin,
                                                  lingerMillis: settings.lingerMillis, highWaterMark: settings.highWaterMark,
                                                  maxMessageBytes: 64 << 10) { socket throws(ZMQError) in
                if let identity { try socket.makeCurveServer(identity, domain: ZAPDomain.state) }
            }
        } catch {
            zap?.stop()
            context.terminate()
            throw error
        }
        do { try socket.set(ZMQ_ROUTER_MANDATORY, 1) } catch {
            socket.close()
            zap?.stop()
            context.terminate()
            throw error
        }
        self.socket = socket
        self.endpoint = bound
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "grove-state-server"
        self.thread = thread
        thread.start()
    }

    public var served: Counters { counters.value }

    /// The state fetches may be granted for from now on (the owner's committed state).
    ///
    /// - Parameter keep: keep serving this state to a grant that arrives after a newer publish
    ///   (for `grantIdle`): the coordinator asked for it (a checkpoint or an evaluation is due).
    public func publish(_ image: StateImage, keep: Bool = false) {
        lock.lock()
        published = image
        if keep {
            kept.append((image, .now))
            if kept.count > 2 { kept.removeFirst(kept.count - 2) }
        }
        for index in grants.indices where grants[index].image == nil && grants[index].step == image.step {
            grants[index].image = image
        }
        lock.unlock()
    }

    /// The step of the published state, if any.
    public var publishedStep: UInt64? {
        lock.lock()
        defer { lock.unlock() }
        return published?.step
    }

    /// Lets fetches carrying `token` in `generation` read the state after `step`.
    public func grant(token: [UInt8], step: UInt64, generation: UInt64) {
        lock.lock()
        let image = published?.step == step ? published : kept.last { $0.image.step == step }?.image
        grants.removeAll { $0.token == token }
        grants.append(Grant(token: token, step: step, generation: generation, image: image, lastUsed: .now))
        if grants.count > settings.maxGrants { grants.removeFirst(grants.count - settings.maxGrants) }
        lock.unlock()
    }

    /// Stops serving and closes the socket. Idempotent.
    public func close() {
        lock.lock()
        let already = stopping
        stopping = true
        lock.unlock()
        if already { return }
        finished.wait()
    }

    deinit { close() }

    // MARK: Server thread

    private func run() {
        while true {
            lock.lock()
            let stop = stopping
            let now = ContinuousClock.now
            grants.removeAll { $0.lastUsed.duration(to: now) > settings.grantIdle }
            kept.removeAll { $0.since.duration(to: now) > settings.grantIdle }
            lock.unlock()
            if stop { break }
            var items = [zmq_pollitem_t(socket: socket.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)]
            let rc = zmq_poll(&items, 1, 100)
            if rc <= 0 { continue }
            while let parts = try? socket.tryReceive() {
                guard parts.count == 2 else {
                    counters.update { $0.malformed += 1 }
                    continue
                }
                if let reply = answer(parts[1]) { send([parts[0], reply]) }
            }
        }
        socket.close()
        zap?.stop()
        context.terminate()
        finished.signal()
    }

    /// Sends one answer, waiting a little for room: a fetcher has at most its window of requests
    /// out (at most 64), so room comes as it reads. One that went away, or that asks more than it
    /// reads, loses the answer after a second and times out on its side.
    private func send(_ parts: [[UInt8]]) {
        let deadline = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < deadline {
            guard let sent = try? socket.trySend(parts) else { return }  // the peer is gone
            if sent { return }
            Thread.sleep(forTimeInterval: 0.001)
        }
    }

    /// The answer to one request, or nil for one that is not a state fetch at all.
    func answer(_ bytes: [UInt8]) -> [UInt8]? {
        guard let (envelope, message) = try? Wire.decode(bytes), case .stateFetch(let fetch) = message else {
            counters.update { $0.malformed += 1 }
            return nil
        }
        switch resolve(fetch, generation: envelope.generation.rawValue) {
        case .refused(let reason, let held, let text):
            counters.update { $0.refused += 1 }
            return encode(.stateRefused(Wire.StateRefused(reason: reason, heldStep: held, text: text)), generation: envelope.generation.rawValue)
        case .image(let image):
            // A range that runs past the end is served up to the end: a fetcher asks for a whole
            // chunk before it knows the state's length.
            let offset = fetch.offset
            guard fetch.length > 0, fetch.length <= UInt32(Wire.maxChunkBytes), offset < UInt64(image.byteCount) else {
                counters.update { $0.refused += 1 }
                return encode(.stateRefused(Wire.StateRefused(
                    reason: .badRange, heldStep: image.step,
                    text: "range \(offset) + \(fetch.length) is outside the state of \(image.byteCount) bytes (at most \(Wire.maxChunkBytes) per fetch)")),
                    generation: envelope.generation.rawValue)
            }
            let length = min(UInt64(fetch.length), UInt64(image.byteCount) - offset)
            let key = "\(image.step)/\(image.byteCount)"
            let hash: [UInt8]
            if let known = hashes[key] { hash = known } else {
                hash = image.sha256()
                if hashes.count >= 4 { hashes.removeAll() }
                hashes[key] = hash
            }
            var data = image.bytes(from: Int(offset), count: Int(length))
            switch tamper {
            case .none: break
            case .corrupt: data[data.count / 2] ^= 0x5A
            case .truncate: data.removeLast(min(data.count, 3))
            case .silentAfter(let chunks):
                // A process that died: it answers nothing more.
                if counters.value.chunks >= chunks { return nil }
            }
            counters.update {
                $0.chunks += 1
                $0.bytes += data.count
            }
            return encode(.stateChunk(Wire.StateChunk(step: image.step, totalBytes: UInt64(image.byteCount), stateHash: hash,
                                                      offset: offset, data: data)), generation: envelope.generation.rawValue)
        }
    }

    enum Resolution {
        case image(StateImage)
        case refused(Wire.StateRefused.Reason, held: UInt64, text: String)
    }

    private func resolve(_ fetch: Wire.StateFetch, generation: UInt64) -> Resolution {
        let current = currentGeneration()
        lock.lock()
        defer { lock.unlock() }
        let held = published?.step ?? 0
        guard let index = grants.firstIndex(where: { $0.token == fetch.token }) else {
            return .refused(.notGranted, held: held, text: "no grant for this token (it expired, or was never given)")
        }
        let grant = grants[index]
        // The request must name the generation its grant was given in, one the owner has seen:
        // a token cannot be replayed under another. A newer generation does not revoke a grant:
        // a joiner admitted in one generation is still a member when the next one starts (others
        // joined at the same boundary), and its transfer must not fail for that.
        guard generation == grant.generation, grant.generation <= current else {
            return .refused(.notGranted, held: held,
                            text: "the request names generation \(generation), the grant is for \(grant.generation) and the current is \(current)")
        }
        guard fetch.step == grant.step else {
            return .refused(.notGranted, held: held, text: "the request asks for step \(fetch.step), the grant is for step \(grant.step)")
        }
        grants[index].lastUsed = .now
        if let image = grant.image { return .image(image) }
        if let published, published.step == grant.step {
            grants[index].image = published
            return .image(published)
        }
        if held > grant.step {
            return .refused(.staleStep, held: held, text: "step \(grant.step) is stale; this server holds the state after step \(held)")
        }
        return .refused(.notReady, held: held, text: "this server holds the state after step \(held), not yet \(grant.step)")
    }

    private func encode(_ message: Wire.Message, generation: UInt64) -> [UInt8] {
        Wire.encode(message, generation: Generation(generation), sender: WorkerID(0), incarnation: Incarnation(0))
    }
}
