import Coordination
import Core
import Wire

/// The worker runtime, as the simulator models it around each `WorkerInstance`: the join
/// handshake (with a retry), heartbeats, carrying out the instance's directives, rejoining as a
/// new incarnation after `reject(declaredDown)`, and the point-triggered crashes and drains.
extension Simulator {
    func sayHello(_ slot: Int) {
        sendFromWorker(slot, .hello(Wire.Hello()))
        schedule(slot, .joinRetry, after: Timing.joinRetry)
    }

    func schedule(_ slot: Int, _ timer: SimWorker.Timer, after millis: Int) {
        queue.schedule(.worker(slot: slot, life: workers[slot].life, timer), at: now + millis)
    }

    func sendFromWorker(_ slot: Int, _ message: Wire.Message, generation: Generation? = nil) {
        let worker = workers[slot]
        let envelope = Wire.Envelope(kind: message.kind, generation: generation ?? worker.instance.generation,
                                     sender: worker.instance.id, incarnation: worker.incarnation)
        let packet = SimNetwork.Packet(from: slot, to: -1, process: worker.process, epoch: coordinatorEpoch, message: message, envelope: envelope)
        for (at, hostile) in network.route(packet, now: now) {
            var copy = packet
            copy.hostile = hostile
            queue.schedule(.deliver(copy), at: at)
        }
    }

    func workerReceives(_ packet: SimNetwork.Packet) {
        let slot = packet.to
        guard workers[slot].process == packet.process, workers[slot].isRunning, packet.epoch == coordinatorEpoch,
              !(packet.hostile && faultsOver) else { return }
        if let until = workers[slot].pausedUntil {
            // A stopped process's socket buffers what arrives; it reads it when it resumes.
            if until > now { return queue.schedule(.deliver(packet), at: until) }
            workers[slot].pausedUntil = nil
        }
        note("w-slot \(slot) (\(workers[slot].instance.id)) <- \(packet.message.kind) g\(packet.envelope.generation.rawValue)")
        switch packet.message {
        case .runConfig:
            guard workers[slot].phase == .connecting else { return }
            let worker = workers[slot]
            sendFromWorker(slot, .join(Wire.Join(schemaHash: 0x5EED, ringEndpoint: "tcp://\(worker.host):\(40_000 + slot)",
                                                 host: worker.host, pid: worker.pid,
                                                 stateEndpoint: "tcp://\(worker.host):\(41_000 + slot)")))
        case .welcome(let welcome):
            guard workers[slot].phase == .connecting else { return }
            workers[slot].instance.onWelcome(welcome)
            workers[slot].phase = .member
            slotOf[welcome.worker] = (slot, workers[slot].life)
            schedule(slot, .heartbeat, after: Timing.heartbeatInterval)
            pass(slot, .welcomed)
        default:
            let before = workers[slot].instance.committed
            let directives = workers[slot].instance.onMessage(packet.message, envelope: packet.envelope)
            let generation = workers[slot].instance.generation
            if generation < workers[slot].lastGeneration {
                fail("w-slot \(slot)'s generation went back from \(workers[slot].lastGeneration) to \(generation)")
            }
            workers[slot].lastGeneration = generation
            // A run that was full is tried again a heartbeat interval later, not at once.
            var full = false
            if case .reject(let reject) = packet.message, reject.reason == .full { full = true }
            for directive in directives where workers[slot].isRunning {
                carryOut(directive, slot: slot, committedBefore: before, waitFirst: full)
            }
        }
    }

    private func carryOut(_ directive: WorkerInstance.Directive, slot: Int, committedBefore: Int?, waitFirst: Bool) {
        switch directive {
        case .install(let state, _):
            guard let weights = Simulator.weights(in: state) else { return fail("w-slot \(slot) got a state it cannot read") }
            let step = Int(state.step)
            if let committed = ledger.hash(after: step), committed != weights {
                fail("w-slot \(slot) was sent the state after step \(step) with weights the ledger did not commit")
            }
            workers[slot].weights = weights
            workers[slot].pending = nil
            pass(slot, .stateInstalled)
        case .run(let order):
            if pass(slot, .leaseAccepted) { return }
            startRing(slot, order)
        case .commit(let step):
            let worker = workers[slot]
            guard let before = committedBefore, step.ordinal > before else { return }  // a repeat
            if let pending = worker.pending, pending.step == step.ordinal {
                workers[slot].weights = pending.weights
                workers[slot].pending = nil
                if !worker.corrupt, let committed = ledger.hash(after: step.ordinal), committed != pending.weights {
                    fail("w-slot \(slot) committed step \(step) with weights the ledger did not commit")
                }
            } else {
                fail("w-slot \(slot) (\(worker.instance.id)) moved to committed step \(step) from \(before) without holding its update")
            }
            pass(slot, .commitApplied)
        case .sendState(let step):
            if pass(slot, .stateRequested) { return }
            guard let weights = workers[slot].weights else { return }
            sendFromWorker(slot, .state(Simulator.state(step: step, weights: weights)))
        case .serve(let step, let token, _):
            // The shell's fetch streams from this member; a joiner's reads it directly (`fetch`).
            guard token == Simulator.coordinatorToken else { return }
            if pass(slot, .stateRequested) { return }
            guard let weights = workers[slot].weights, workers[slot].instance.committed == step else { return }
            sendFromWorker(slot, .state(Simulator.state(step: step, weights: weights)))
        case .fetch(let source, _):
            guard let weights = servedWeights(source) else {
                note("w-slot \(slot) found no server for the state after step \(source.step)")
                return
            }
            for next in workers[slot].instance.onStateFetched(Simulator.state(step: Int(source.step), weights: weights))
            where workers[slot].isRunning {
                carryOut(next, slot: slot, committedBefore: committedBefore, waitFirst: waitFirst)
            }
        case .report(let failure):
            sendFromWorker(slot, .stepFailed(failure))
        case .drop:
            break
        case .rejoin:
            note("w-slot \(slot) rejoins as a new incarnation")
            leaveSession(slot, reportsLater: false)
            workers[slot].reincarnate()
            if waitFirst { schedule(slot, .joinRetry, after: Timing.heartbeatInterval) } else { sayHello(slot) }
        case .exit:
            leaveSession(slot, reportsLater: false)
            workers[slot].phase = .exited
        }
    }

    /// The weights the first of a state source's servers would stream: the shell's held state
    /// (worker 0) or a running member's committed state, when it is the step asked for and hashes
    /// to the committed hash. A stopped or dead server serves nothing (the fetcher tries the next).
    func servedWeights(_ source: Wire.StateSource) -> UInt64? {
        for server in source.sources {
            let weights: UInt64?
            if server.worker == WorkerID(0) {
                weights = held.step == Int(source.step) ? held.weights : nil
            } else if let (slot, life) = slotOf[server.worker], workers[slot].life == life, workers[slot].isRunning,
                      (workers[slot].pausedUntil ?? 0) <= now, workers[slot].instance.committed == Int(source.step) {
                weights = workers[slot].weights
            } else {
                weights = nil
            }
            if let weights, Ledger.bytes(of: weights) == source.weightsHash { return weights }
        }
        return nil
    }

    func workerTimer(slot: Int, life: Int, _ timer: SimWorker.Timer) {
        guard workers[slot].life == life, workers[slot].isRunning else { return }
        if let until = workers[slot].pausedUntil {
            if until > now { return queue.schedule(.worker(slot: slot, life: life, timer), at: until) }
            workers[slot].pausedUntil = nil
        }
        switch timer {
        case .heartbeat:
            let committed = UInt64(workers[slot].instance.committed ?? 0)
            sendFromWorker(slot, .heartbeat(Wire.Heartbeat(committedStep: committed)))
            schedule(slot, .heartbeat, after: Timing.heartbeatInterval)
        case .joinRetry:
            guard workers[slot].phase == .connecting else { return }
            sayHello(slot)
        case .computeDone(let session):
            computeDone(slot, session)
        case .collectiveTimeout(let session):
            collectiveTimedOut(slot, session)
        }
    }

    /// A spot notice: the worker hands back its lease and leaves.
    func drain(_ slot: Int) {
        sendFromWorker(slot, .leave(Wire.Leave(reason: .drain, text: "spot notice")))
        leaveSession(slot, reportsLater: false)
        workers[slot].phase = .exited
    }

    /// The worker reached `point`; a crash or drain planned there happens now (true: it did).
    @discardableResult
    func pass(_ slot: Int, _ point: FaultPlan.WorkerPoint) -> Bool {
        guard !faultsOver, slot < plan.workers, let index = FaultPlan.WorkerPoint.allCases.firstIndex(of: point),
              workers[slot].passed.insert(index).inserted else { return false }
        if plan.crashAt.contains(where: { $0.slot == slot && $0.point == point }) {
            stats.count("crash at \(point)")
            note("w-slot \(slot) crashes at \(point)")
            crash(slot)
            return true
        }
        if plan.drainAt.contains(where: { $0.slot == slot && $0.point == point }) {
            stats.count("drain at \(point)")
            note("w-slot \(slot) drains at \(point)")
            drain(slot)
            return true
        }
        return false
    }
}
