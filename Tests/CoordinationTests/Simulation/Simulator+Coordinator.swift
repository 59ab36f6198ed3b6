import Coordination
import Core
import Wire

/// The coordinator's shell, as the simulator models it: it carries out every directive the way
/// `CoordinatorRuntime` must, and checks what the shell can see (the state it holds, the ledger).
extension Simulator {
    func coordinatorReceives(_ packet: SimNetwork.Packet) {
        guard packet.epoch == coordinatorEpoch, !(packet.hostile && faultsOver) else { return }
        note("c <- \(packet.envelope.sender) \(packet.message.kind) g\(packet.envelope.generation.rawValue)")
        if case .state(let state) = packet.message, let fetch = pendingFetch, fetch.sources.contains(packet.envelope.sender),
           state.step == UInt64(fetch.step) {
            // The end of a streamed fetch: the shell checks the weights and keeps the state.
            pendingFetch = nil
            note("fetched state of step \(fetch.step) from \(packet.envelope.sender)")
            if let weights = Simulator.weights(in: state), Ledger.bytes(of: weights) == fetch.hash {
                held = (fetch.step, weights)
                perform(coordinator.onStateStored(step: fetch.step, now: instant))
            } else {
                perform(coordinator.onStateRejected(from: packet.envelope.sender, reason: "hash mismatch", now: instant))
            }
            return
        }
        perform(coordinator.onMessage(packet.message, envelope: packet.envelope, from: SimWorker.peer(packet.process),
                                      now: instant))
    }

    func perform(_ directives: [CoordinatorInstance.Directive]) {
        for directive in directives {
            guard violation == nil else { return }
            perform(directive)
        }
    }

    private func perform(_ directive: CoordinatorInstance.Directive) {
        switch directive {
        case .send(let message, let peer):
            if case .lease(let lease) = message {
                // Workers drop a repeat of a generation and step they ran: every attempt must be
                // dealt in a generation of its own.
                guard dealt.insert(DealKey(generation: coordinator.generation, step: lease.step, peer: peer)).inserted else {
                    return fail("step \(lease.step) dealt twice to one member in \(coordinator.generation)")
                }
            }
            sendFromCoordinator(message, to: peer)
            if case .lease(let lease) = message, lease.microBatches.first?.id.rawValue == 0 { passCoordinatorPoint(.dealt) }
        case .broadcast(let message):
            for member in coordinator.table.live { sendFromCoordinator(message, to: member.peer) }
        case .sendState(let peers, let step, let hash, let sources):
            for source in sources {
                if source.worker == WorkerID(0) {
                    guard held.step == step else { return fail("the shell is a source of step \(step), but it holds step \(held.step)") }
                } else if let member = coordinator.table.members[source.worker] {
                    sendFromCoordinator(.stateGrant(Wire.StateGrant(step: UInt64(step), token: Simulator.joinerToken)), to: member.peer)
                }
            }
            let weightsHash = hash ?? Ledger.bytes(of: held.weights)
            for peer in peers {
                sendFromCoordinator(.stateSource(Wire.StateSource(step: UInt64(step), weightsHash: weightsHash, token: Simulator.joinerToken,
                                                                  sources: sources)), to: peer)
            }
            passCoordinatorPoint(.stateSent)
        case .commit(let record):
            onCommit(record)
            for member in coordinator.table.live {
                sendFromCoordinator(.commit(Wire.Commit(step: record.step.wire)), to: member.peer, generation: record.generation)
            }
            passCoordinatorPoint(.committed)
        case .fetchState(let step, let hash, let sources):
            note("fetch state of step \(step) from \(sources.map(\.worker))")
            // A fetch that never completes (a lost grant, a dead source) is what a real shell's
            // fetch deadline turns into `onStateFetchFailed`; the stop asks the next member.
            pendingFetch = (step, hash, sources.map(\.worker))
            for source in sources {
                guard let member = coordinator.table.members[source.worker] else { continue }
                sendFromCoordinator(.stateGrant(Wire.StateGrant(step: UInt64(step), token: Simulator.coordinatorToken)), to: member.peer)
            }
            passCoordinatorPoint(.stateRequested)
        case .checkpoint(let step):
            note("checkpoint \(step)")
            stats.count("checkpoints written")
            guard held.step == step else { return fail("checkpoint of step \(step), but the shell holds step \(held.step)") }
            guard ledger.hash(after: step) == held.weights else {
                return fail("checkpoint of step \(step) holds weights the ledger did not commit")
            }
            lastCheckpoint = held
        case .evaluate(let step):
            guard held.step == step else { return fail("evaluation of step \(step), but the shell holds step \(held.step)") }
        case .rollback(let from, let to):
            note("rollback \(from) -> \(to)")
            guard from == ledger.committed, held.step == to else {
                return fail("rollback from \(from) to \(to), but the ledger has \(ledger.committed) and the shell holds \(held.step)")
            }
            if let problem = ledger.rollback(to: to) { fail(problem) }
        case .event(let event):
            note("event \(Simulator.describe(event))")
            if case .generation = event { passCoordinatorPoint(.generationChanged) }
        case .finish(let reason):
            note("finish \(reason)")
            finishedAt = now
            for member in coordinator.table.live {
                sendFromCoordinator(.leave(Wire.Leave(reason: .runFinished, text: "run finished")), to: member.peer)
            }
        }
    }

    /// The coordinator is killed and `resume` starts a new one from the newest checkpoint: the
    /// ledger goes back to it, and everything the old one had in flight is lost with its sockets.
    func restartCoordinator() {
        stats.absorb(SimNetwork.Counters(), coordinator.counters)  // the old one's, before they go
        coordinatorEpoch += 1
        coordinator = CoordinatorInstance(settings: coordinator.settings, committed: lastCheckpoint.step)
        held = lastCheckpoint
        if ledger.committed > lastCheckpoint.step, let problem = ledger.rollback(to: lastCheckpoint.step) { fail(problem) }
        // A new coordinator numbers generations from the start again: attempts are new.
        lastGeneration = Generation(0)
        dealt.removeAll()
        sessionIndex.removeAll()
        activeSessions.removeAll()
        stopBeganAt = nil
    }

    private func onCommit(_ record: CoordinatorInstance.CommitRecord) {
        note("commit step \(record.step) in \(record.generation) by \(record.results.keys.sorted())")
        let session = sessionIndex[SessionKey(generation: record.generation, step: record.step.ordinal)].map { sessions[$0] }
        let applied = session.flatMap { $0.succeeded ? $0.samples.sorted() : nil }
        // The hash may leave the honest chain only if no honest replica was among those who agreed.
        let onlyCorrupt = record.results.keys.allSatisfy { id in
            guard let home = slotOf[id] else { return false }
            return session?.corrupt.contains(home.slot) ?? false
        }
        if let problem = ledger.commit(record, applied: applied, onlyCorrupt: onlyCorrupt) { return fail(problem) }
        // Every agreeing member still alive holds the committed weights as its pending update.
        for id in record.results.keys {
            guard let home = slotOf[id], workers[home.slot].life == home.life, let pending = workers[home.slot].pending else { continue }
            if pending.step == record.step.ordinal, Ledger.bytes(of: pending.weights) != record.hash {
                fail("\(id) agreed on step \(record.step) but holds other weights")
            }
        }
    }

    func sendFromCoordinator(_ message: Wire.Message, to peer: [UInt8], generation: Generation? = nil) {
        guard let process = SimWorker.process(ofPeer: peer), let slot = workers.firstIndex(where: { $0.process == process }) else {
            return
        }
        let envelope = Wire.Envelope(kind: message.kind, generation: generation ?? coordinator.generation, sender: WorkerID(0),
                                     incarnation: Incarnation(0))
        let packet = SimNetwork.Packet(from: -1, to: slot, process: process, epoch: coordinatorEpoch, message: message, envelope: envelope)
        for (at, hostile) in network.route(packet, now: now) {
            var copy = packet
            copy.hostile = hostile
            queue.schedule(.deliver(copy), at: at)
        }
    }

    /// An event for the trace, without absolute instants (a replay must print the same lines).
    static func describe(_ event: CoordinatorInstance.Event) -> String {
        switch event {
        case .abandoned(let a): "abandoned step \(a.step) of \(a.generation) (\(a.cause), \(a.members) members)"
        case .joined(let id, let host, _, let rejoinOf, let waits):
            "joined \(id) on \(host)\(rejoinOf.map { " (was \($0))" } ?? "")\(waits == nil ? "" : " (quarantined)")"
        default: "\(event)"
        }
    }

    /// The token of the shell's own fetches, and of the joiners' (the simulator tells them apart
    /// by it: a member streams to the shell only under the first).
    static let coordinatorToken: [UInt8] = [1]
    static let joinerToken: [UInt8] = [2]

    /// The state message that carries `weights` (as 16-bit pieces, each exact in a float).
    static func state(step: Int, weights: UInt64) -> Wire.State {
        Wire.State(step: UInt64(step), tensors: [Wire.Tensor(name: "weights", values: (0..<4).map {
            Float((weights >> (16 * UInt64($0))) & 0xFFFF)
        })])
    }

    static func weights(in state: Wire.State) -> UInt64? {
        guard state.tensors.count == 1, state.tensors[0].values.count == 4 else { return nil }
        return state.tensors[0].values.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (16 * UInt64($1.offset)) }
    }
}
