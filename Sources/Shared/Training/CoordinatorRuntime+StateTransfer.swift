import Coordination
import Core
import Foundation
import Logging
import Optim
import Transport
import Wire

/// A state fetched from a member, or why none could be.
struct StateFetchOutcome: Sendable {
    var step: Int
    var result: Result<(replica: Replica, from: WorkerID, bytes: Int, seconds: Double), FetchFailure>
}

/// Why a fetch brought no state: every source failed (the last one named), or one served weights
/// that are not the committed ones.
enum FetchFailure: Error {
    case unavailable(from: WorkerID, reason: String)
    case mismatch(from: WorkerID, reason: String)
}

extension CoordinatorRuntime {
    /// Starts the state server that serves the state this coordinator holds, next to the control
    /// socket's address, and publishes that state.
    func startStateServer(advertisedHost: String) throws {
        let bind = config.coordinator.bind
        let generation = currentGeneration
        let authorized = security.curve?.authorized
        let server = try StateServer(host: bind, origin: "coordinator.bind (the state server)", security: security,
                                     admits: { key in authorized?.allows(key) ?? false }, refusals: loop.refusals,
                                     onRefused: CoordinatorRuntime.refusalLogger(logger), currentGeneration: { generation.value })
        stateServer = server
        let port = server.endpoint.split(separator: ":").last.map(String.init) ?? "0"
        stateEndpoint = try Endpoint(host: advertisedHost, port: UInt16(port)).description
        server.publish(state.image)
        logger.debug("state server on \(server.endpoint), announced as \(stateEndpoint)")
    }

    /// A fresh token for one transfer: 16 random bytes, given to the servers that may serve it and
    /// to whoever fetches.
    func newToken() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Grants `token` on every source and tells the joiners where to fetch the state after `step`.
    func sendStateSource(to peers: [[UInt8]], step: Int, hash: [UInt8]?, sources: [Wire.Member]) {
        let token = newToken()
        if security.isCurve {
            // Under CURVE a joiner dials a member's state server expecting that member's key, and
            // the member admits only keys the coordinator named: both learn them first.
            let joiners = peers.compactMap { peer in peerKeys[peer].map { Wire.RingKeys.Entry(worker: core.table.member(peer: peer)?.id ?? WorkerID(0), key: $0.bytes) } }
            let members = core.table.live.compactMap { member in peerKeys[member.peer].map { Wire.RingKeys.Entry(worker: member.id, key: $0.bytes) } }
            let servers = sources.compactMap { source in core.table.members[source.worker] }
            for server in servers {
                loop.sendControl(encode(.ringKeys(Wire.RingKeys(members: members + joiners))), to: server.peer)
            }
            let sourceKeys = members.filter { entry in sources.contains { $0.worker == entry.worker } }
            for peer in peers { loop.sendControl(encode(.ringKeys(Wire.RingKeys(members: sourceKeys))), to: peer) }
        }
        var listed: [Wire.Member] = []
        for source in sources {
            if source.worker == WorkerID(0) {
                precondition(state.committedStep == step, "the instance listed the shell's state of step \(step); it holds \(state.committedStep)")
                stateServer?.grant(token: token, step: UInt64(step), generation: core.generation.rawValue)
                listed.append(Wire.Member(worker: WorkerID(0), ringEndpoint: stateEndpoint))
            } else if let member = core.table.members[source.worker] {
                loop.sendControl(encode(.stateGrant(Wire.StateGrant(step: UInt64(step), token: token))), to: member.peer)
                listed.append(source)
            }
        }
        // Before the first commit only the shell's state exists; its hash is the one to check.
        let weightsHash = hash ?? hexBytes(state.weightsHash)
        let message = encode(.stateSource(Wire.StateSource(step: UInt64(step), weightsHash: weightsHash, token: token, sources: listed)))
        for peer in peers { loop.sendControl(message, to: peer) }
        logger.info("\(peers.count) joiner\(peers.count == 1 ? "" : "s") fetch the state after step \(step) from \(listed.map { $0.worker == WorkerID(0) ? "the coordinator" : "\($0.worker)" }.joined(separator: ", "))")
    }

    /// Streams the state after `step` from the first of `sources` that serves it, on a thread of its
    /// own; the event loop takes the outcome (`takeFetchedStates`).
    func fetchState(step: Int, hash: [UInt8], sources: [Wire.Member]) {
        let token = newToken()
        let generation = core.generation
        for source in sources {
            guard let member = core.table.members[source.worker] else { continue }
            loop.sendControl(encode(.stateGrant(Wire.StateGrant(step: UInt64(step), token: token))), to: member.peer)
        }
        let layout = setup.model.layout
        let optimizer: Optimizer
        do { optimizer = try makeOptimizer(setup, totalSteps: totalSteps) } catch {
            logger.error("cannot build the optimizer for a fetched state: \(error)")
            return
        }
        let fetcher = StateFetcher(sender: WorkerID(0), incarnation: incarnation, security: security)
        // The key each member's control handshake proved: its state server must have it.
        let serverKeys = Dictionary(sources.compactMap { source in
            core.table.members[source.worker].flatMap { peerKeys[$0.peer] }.map { (source.worker, $0) }
        }, uniquingKeysWith: { first, _ in first })
        let outcomes = fetchedStates, logger = self.logger
        let thread = Thread {
            var last = FetchFailure.unavailable(from: sources.last?.worker ?? WorkerID(0), reason: "no member to fetch from")
            for source in sources {
                let origin = "\(source.worker)'s state server (\(LogText.escape(source.ringEndpoint)))"
                do {
                    let got = try fetcher.fetch(from: source.ringEndpoint, origin: origin, step: UInt64(step), token: token,
                                                generation: generation, maxValues: Replica.valueBudget(layout: layout, optimizer: optimizer),
                                                serverKey: serverKeys[source.worker])
                    var replica = try Replica(layout: layout, wire: got.state, optimizer: optimizer)
                    guard replica.weightsHash == hash.hexString else {
                        last = .mismatch(from: source.worker, reason: "its weights hash \(replica.weightsHash.prefix(12)) is not the committed \(hash.hexString.prefix(12))")
                        break
                    }
                    // It is the state after `step` commits, whatever its own step says.
                    if step > 0 { replica.commit(step: Step(ordinal: step)) }
                    outcomes.update { $0.append(StateFetchOutcome(step: step, result: .success((replica, source.worker, got.bytes, got.seconds)))) }
                    return
                } catch {
                    logger.warning("could not fetch the state after step \(step) from \(origin): \(error)")
                    last = .unavailable(from: source.worker, reason: "\(error)")
                }
            }
            outcomes.update { $0.append(StateFetchOutcome(step: step, result: .failure(last))) }
        }
        thread.name = "grove-state-fetch"
        thread.start()
    }

    /// Hands the states fetched since the last turn of the loop to the instance.
    func takeFetchedStates() {
        let outcomes = fetchedStates.update { list -> [StateFetchOutcome] in
            defer { list.removeAll() }
            return list
        }
        for outcome in outcomes {
            let now = ContinuousClock.now
            switch outcome.result {
            case .success(let got):
                let rate = Double(got.bytes) / max(got.seconds, 1e-9) / 1e9
                logger.info("fetched the state after step \(outcome.step) from \(got.from): \(got.bytes) bytes in \(String(format: "%.2f", got.seconds)) s (\(String(format: "%.2f", rate)) GB/s)")
                guard got.replica.committedStep >= state.committedStep else { continue }
                state = got.replica
                stateServer?.publish(state.image)
                carry(core.onStateStored(step: outcome.step, now: now))
            case .failure(.mismatch(let from, let reason)):
                carry(core.onStateRejected(from: from, reason: reason, now: now))
            case .failure(.unavailable(let from, let reason)):
                carry(core.onStateFetchFailed(from: from, step: outcome.step, reason: reason, now: now))
            }
        }
    }
}
