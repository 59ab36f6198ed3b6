import CZeroMQ
import Core
import Foundation
import Wire

/// Fetches one state from a `StateServer`, in chunks, with at most `Settings.window` requests
/// outstanding: the bytes in flight are bounded by `window × chunkBytes` whatever the state's size,
/// and the server sends nothing it was not asked for (the outstanding requests are the credit).
/// The chunks are decoded as they arrive (`StateAssembler`); the state is returned only when its
/// SHA-256 equals the one the server announced, its length is the announced length, and its step
/// is the one asked for.
public struct StateFetcher: Sendable {
    public struct Settings: Sendable {
        public var chunkBytes = 4 << 20
        public var window = 4
        /// How long the first answer may take (the server hashes the state before it answers).
        public var firstReplyTimeout: Duration = .seconds(120)
        /// How long any later answer may take before the server counts as gone.
        public var chunkTimeout: Duration = .seconds(10)
        /// How long a server that does not hold the state yet (`notReady`), or has not yet received
        /// its grant (`notGranted`), is asked again before the first chunk.
        public var notReadyWait: Duration = .seconds(10)
        public init() {}

        public func validate() throws(StateTransferError) {
            guard chunkBytes > 0, chunkBytes <= Wire.maxChunkBytes else {
                throw StateTransferError(code: "state.settings", "chunk of \(chunkBytes) bytes: expected 1...\(Wire.maxChunkBytes)")
            }
            guard window >= 1, window <= 64 else {
                throw StateTransferError(code: "state.settings", "window of \(window) chunks: expected 1...64")
            }
        }
    }

    /// What one fetch brought.
    public struct Fetched: Sendable {
        public var state: Wire.State
        public var bytes: Int
        public var sha256: [UInt8]
        public var seconds: Double
    }

    public var settings: Settings
    public var sender: WorkerID
    public var incarnation: Incarnation
    /// Under CURVE: this process's key pair, for fetching from servers whose key the caller names.
    public var security: TransportSecurity

    public init(settings: Settings = Settings(), sender: WorkerID, incarnation: Incarnation, security: TransportSecurity = .none) {
        self.settings = settings
        self.sender = sender
        self.incarnation = incarnation
        self.security = security
    }

    /// Fetches the state after `step` from the server at `endpoint` under a grant.
    ///
    /// - Parameters:
    ///   - maxValues: the most float values the caller's model and optimizer hold; a state that
    ///     announces more is refused before it is allocated.
    ///   - origin: who the server is, for errors (`w3's state server`).
    ///   - serverKey: the server's public key (required under CURVE): a server with another key
    ///     fails the handshake and is never read.
    public func fetch(from endpoint: String, origin: String, step: UInt64, token: [UInt8], generation: Generation,
                      maxValues: Int, serverKey: CurveKey? = nil) throws(StateTransferError) -> Fetched {
        try settings.validate()
        let started = ContinuousClock.now
        let parsed: Endpoint
        do { parsed = try Endpoint.parseAdvertised(endpoint, origin: origin) } catch {
            throw StateTransferError(code: "state.endpoint", "\(origin) at '\(LogText.escape(endpoint))' \(error.problem)")
        }
        var client: (CurveKeyPair, CurveKey)?
        if let curve = security.curve {
            guard let serverKey else {
                throw StateTransferError(code: "state.no-key", "\(origin): its key was not announced, so it is not dialled")
            }
            client = (curve.identity, serverKey)
        }
        let context = ZMQContext()
        defer { context.terminate() }
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket.connected(context, kind: ZMQ_DEALER, endpoint: parsed, origin: origin, lingerMillis: 0,
                                             highWaterMark: Int32(settings.window * 2 + 4),
                                             maxMessageBytes: Int64(settings.chunkBytes + 64 << 10)) { socket throws(ZMQError) in
                if let (identity, key) = client { try socket.makeCurveClient(identity, serverKey: key) }
            }
        } catch {
            throw StateTransferError(code: "state.connect", "\(origin): \(error)")
        }
        defer { socket.close() }
        var session = Session(fetcher: self, socket: socket, origin: origin, step: step, token: token, generation: generation,
                              assembler: StateAssembler(maxValues: maxValues))
        let state = try session.run()
        return Fetched(state: state.state, bytes: session.total ?? 0, sha256: state.sha256, seconds: started.duration(to: .now).inSeconds)
    }

    /// One fetch's conversation with its server.
    struct Session {
        let fetcher: StateFetcher
        let socket: ZMQSocket
        let origin: String
        let step: UInt64
        let token: [UInt8]
        let generation: Generation
        var assembler: StateAssembler
        var total: Int?
        var announcedHash: [UInt8]?
        /// Offsets asked for and not yet answered, in order, with their lengths.
        var outstanding: [(offset: Int, length: Int)] = []
        /// Chunks that arrived ahead of the next one to decode.
        var early: [Int: [UInt8]] = [:]
        var nextToAsk = 0
        var nextToDecode = 0

        var settings: Settings { fetcher.settings }

        mutating func run() throws(StateTransferError) -> (state: Wire.State, sha256: [UInt8]) {
            // The first range tells the length and the hash of the whole.
            let notReadyUntil = ContinuousClock.now + settings.notReadyWait
            while total == nil {
                try ask(offset: 0, length: settings.chunkBytes)
                try receiveOne(timeout: settings.firstReplyTimeout, notReadyUntil: notReadyUntil)
            }
            while nextToDecode < total! {
                while outstanding.count < settings.window, nextToAsk < total! {
                    try ask(offset: nextToAsk, length: min(settings.chunkBytes, total! - nextToAsk))
                }
                try receiveOne(timeout: settings.chunkTimeout, notReadyUntil: notReadyUntil)
            }
            let result: (state: Wire.State, sha256: [UInt8])
            do { result = try assembler.finish() } catch {
                throw StateTransferError(code: "state.malformed", "the state from \(origin) does not decode: \(error.message)")
            }
            guard result.sha256 == announcedHash else {
                throw StateTransferError(code: "state.hash-mismatch",
                                         "the state from \(origin) hashes to \(result.sha256.hexString.prefix(16))…, it announced \((announcedHash ?? []).hexString.prefix(16))…: refused")
            }
            guard result.state.step == step else {
                throw StateTransferError(code: "state.step", "\(origin) sent the state after step \(result.state.step), asked for \(step)")
            }
            return result
        }

        mutating func ask(offset: Int, length: Int) throws(StateTransferError) {
            let request = Wire.encode(.stateFetch(Wire.StateFetch(step: step, token: token, offset: UInt64(offset), length: UInt32(length))),
                                      generation: generation, sender: fetcher.sender, incarnation: fetcher.incarnation)
            let deadline = ContinuousClock.now + settings.chunkTimeout
            while true {
                do {
                    if try socket.trySend([request]) { break }
                } catch {
                    throw StateTransferError(code: "state.send", "cannot ask \(origin) for the state: \(error)")
                }
                if ContinuousClock.now >= deadline {
                    throw StateTransferError(code: "state.timeout", "\(origin) takes no requests (for \(settings.chunkTimeout))")
                }
                Thread.sleep(forTimeInterval: 0.005)
            }
            outstanding.append((offset, length))
            if offset >= nextToAsk { nextToAsk = offset + length }
        }

        mutating func receiveOne(timeout: Duration, notReadyUntil: ContinuousClock.Instant) throws(StateTransferError) {
            let deadline = ContinuousClock.now + timeout
            var parts: [[UInt8]]?
            while parts == nil {
                let left = ContinuousClock.now.duration(to: deadline)
                if left <= .zero {
                    throw StateTransferError(code: "state.timeout",
                                             "\(origin) did not answer within \(timeout) (\(nextToDecode) of \(total.map(String.init) ?? "?") bytes received)")
                }
                var items = [zmq_pollitem_t(socket: socket.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)]
                _ = zmq_poll(&items, 1, Int(min(left.inSeconds * 1000 + 1, 200)))
                do { parts = try socket.tryReceive() } catch {
                    throw StateTransferError(code: "state.receive", "receiving from \(origin): \(error)")
                }
            }
            guard parts!.count == 1, let (envelope, message) = try? Wire.decode(parts![0]) else {
                throw StateTransferError(code: "state.malformed", "\(origin) answered with a frame that does not decode")
            }
            _ = envelope
            switch message {
            case .stateRefused(let refused):
                // Before the first chunk, a server that does not hold the state yet, or has not yet
                // read the grant (it travels on the coordinator's control channel, this request
                // on another socket), is asked again for a while.
                if refused.reason == .notReady || refused.reason == .notGranted, ContinuousClock.now < notReadyUntil, total == nil {
                    outstanding.removeAll()
                    Thread.sleep(forTimeInterval: 0.05)
                    return
                }
                throw StateTransferError(code: "state.refused",
                                         "\(origin) refused the state after step \(step) (\(refused.reason)): \(LogText.escape(refused.text, limit: 400))")
            case .stateChunk(let chunk):
                try take(chunk)
            default:
                throw StateTransferError(code: "state.malformed", "\(origin) answered a fetch with \(message.kind)")
            }
        }

        mutating func take(_ chunk: Wire.StateChunk) throws(StateTransferError) {
            guard chunk.step == step else {
                throw StateTransferError(code: "state.step", "\(origin) sent a chunk of the state after step \(chunk.step), asked for \(step)")
            }
            guard let index = outstanding.firstIndex(where: { $0.offset == Int(clamping: chunk.offset) }) else {
                throw StateTransferError(code: "state.malformed", "\(origin) sent a chunk at offset \(chunk.offset) that was not asked for")
            }
            if total == nil {
                guard chunk.totalBytes <= UInt64(Int.max), chunk.stateHash.count == 32 else {
                    throw StateTransferError(code: "state.malformed", "\(origin) announced a state of \(chunk.totalBytes) bytes with a \(chunk.stateHash.count)-byte hash")
                }
                total = Int(chunk.totalBytes)
                announcedHash = chunk.stateHash
                nextToAsk = min(outstanding[index].length, total!)
            } else if chunk.totalBytes != UInt64(total!) || chunk.stateHash != announcedHash {
                throw StateTransferError(code: "state.inconsistent", "\(origin) changed the state it serves in the middle of the transfer")
            }
            let asked = outstanding.remove(at: index)
            let expected = min(asked.length, total! - asked.offset)
            guard chunk.data.count == expected else {
                throw StateTransferError(code: "state.truncated",
                                         "\(origin) sent \(chunk.data.count) bytes at offset \(asked.offset), expected \(expected)")
            }
            early[asked.offset] = chunk.data
            while let data = early.removeValue(forKey: nextToDecode) {
                do { try assembler.consume(data) } catch {
                    throw StateTransferError(code: "state.malformed", "the state from \(origin) does not decode: \(error.message)")
                }
                nextToDecode += data.count
            }
        }
    }
}
