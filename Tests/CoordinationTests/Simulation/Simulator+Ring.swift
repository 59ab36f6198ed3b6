import Coordination
import Core
import Wire

/// The step's compute and ring all-reduce, modelled abstractly (see `RingSession`).
extension Simulator {
    func startRing(_ slot: Int, _ order: WorkerInstance.StepOrder) {
        leaveSession(slot, reportsLater: false)
        let key = SessionKey(generation: order.generation, step: order.step.ordinal)
        let ring = order.ring.map(\.worker)
        let id: Int
        if let existing = sessionIndex[key] {
            id = existing
            guard sessions[id].ring == ring else { return fail("two leases of step \(order.step) in \(order.generation) name different rings") }
        } else {
            id = sessions.count
            sessions.append(RingSession(key: key, ring: ring))
            sessionIndex[key] = id
            activeSessions.insert(id)
        }
        guard !sessions[id].succeeded else { return fail("rank \(order.rank) of step \(order.step) in \(order.generation) ran after its ring completed") }
        if let earlier = sessions[id].member[order.rank] {
            // The rank starts over (a state arrived in between and discarded its work): its first
            // run left the collective, which now fails; the worker waits and reports a timeout.
            guard earlier.slot == slot else { return fail("two workers took rank \(order.rank) of step \(order.step) in \(order.generation)") }
            sessions[id].gone[order.rank] = true
            workers[slot].session = (id, order.rank)
            schedule(slot, .collectiveTimeout(session: id), after: Timing.collectiveTimeout)
            return
        }
        sessions[id].member[order.rank] = (slot, workers[slot].life)
        sessions[id].samples += order.microBatches.flatMap { $0.samples.map(Int.init) }
        if workers[slot].corrupt { sessions[id].corrupt.insert(slot) }
        if order.attachState { sessions[id].attachState = true }
        workers[slot].session = (id, order.rank)
        let jitter = rng.nextInt(below: 20)
        let compute = (Timing.computeBase + Timing.computePerMicroBatch * order.microBatches.count) * workers[slot].slowFactor + jitter
        schedule(slot, .computeDone(session: id), after: compute)
        schedule(slot, .collectiveTimeout(session: id), after: compute + Timing.collectiveTimeout)
    }

    func computeDone(_ slot: Int, _ id: Int) {
        guard let (current, rank) = workers[slot].session, current == id, !sessions[id].gone[rank] else { return }
        sessions[id].ready[rank] = true
        if sessions[id].ready.allSatisfy({ $0 }) && !sessions[id].completionScheduled {
            sessions[id].completionScheduled = true
            queue.schedule(.ringComplete(session: id), at: now + Timing.reduce)
        }
    }

    private func linkUp(_ session: RingSession, into rank: Int) -> Bool {
        let from = session.previous(rank)
        guard let a = session.member[from], let b = session.member[rank] else { return false }
        return !session.cutIn[rank] && !network.isCut(a.slot, b.slot, now: now)
    }

    func completeRing(_ id: Int) {
        var session = sessions[id]
        activeSessions.remove(id)
        let whole = session.ring.indices.allSatisfy { rank in
            guard let m = session.member[rank], !session.gone[rank], session.ready[rank] else { return false }
            return workers[m.slot].life == m.life && workers[m.slot].isRunning && workers[m.slot].pausedUntil == nil
                && linkUp(session, into: rank)
        }
        guard whole else { return }  // the members' collectives time out on their own
        session.succeeded = true
        sessions[id] = session
        let samples = session.samples.sorted()
        for rank in session.ring.indices {
            let slot = session.member[rank]!.slot
            workers[slot].session = nil
            guard let weights = workers[slot].weights else { fail("w-slot \(slot) ran a step without a state"); continue }
            var after = Ledger.chain(weights, step: session.key.step, samples: samples)
            if workers[slot].corrupt { after ^= 0xBAD_BAD }
            workers[slot].pending = (session.key.step, after)
            if pass(slot, .ringDone) { continue }
            let wantsState = rank == 0 && session.attachState
            let result = Wire.StepResult(
                step: UInt64(session.key.step), losses: losses(step: session.key.step, rank: rank), weightsHash: Ledger.bytes(of: after), dataNanos: 0, computeNanos: 0,
                reduceNanos: 0, reduceBytes: 0, state: wantsState ? Simulator.state(step: session.key.step, weights: after) : nil)
            sendFromWorker(slot, .stepResult(result), generation: session.key.generation)
            pass(slot, .resultSent)
        }
    }

    /// One loss per result is enough for the coordinator's check; rank 0 carries the bad one.
    private func losses(step: Int, rank: Int) -> [Wire.SampleLoss] {
        [Wire.SampleLoss(sample: 0, loss: step == plan.nonFiniteStep && rank == 0 ? .nan : 0.5)]
    }

    func collectiveTimedOut(_ slot: Int, _ id: Int) {
        guard let (current, rank) = workers[slot].session, current == id, !sessions[id].succeeded else { return }
        var session = sessions[id]
        session.gone[rank] = true
        session.timedOut[rank] = true
        sessions[id] = session
        workers[slot].session = nil
        // The stall is nearest where frames stopped first: walk upstream to the first rank whose
        // incoming link or sender failed. Frames from the suspect are that distance (0 at the cut).
        var frames = session.ring.count
        for distance in 0..<session.ring.count {
            let r = (rank + session.ring.count - distance) % session.ring.count
            let sender = session.previous(r)
            let senderOK = session.member[sender] != nil && session.ready[sender] && (!session.gone[sender] || session.timedOut[sender] || sender == rank)
            if !senderOK || !linkUp(session, into: r) {
                frames = distance
                break
            }
        }
        let suspect = session.ring[session.previous(rank)]
        let failure = Wire.StepFailed(code: "collective.timeout", step: UInt64(session.key.step),
                                      text: "no frame from \(suspect) for the collective timeout", suspect: suspect,
                                      framesFromSuspect: UInt32(frames))
        sendFromWorker(slot, .stepFailed(failure), generation: session.key.generation)
    }

    /// The worker leaves the ring session it is in. A paused worker still reports its timeout
    /// when it resumes (its timer fires late); one that crashed, rejoined or moved on does not.
    func leaveSession(_ slot: Int, reportsLater: Bool) {
        guard let (id, rank) = workers[slot].session, !sessions[id].succeeded else { return }
        sessions[id].gone[rank] = true
        if !reportsLater { workers[slot].session = nil }
    }

    /// A partition between two nodes cuts every ring link between them in sessions under way.
    func cutRingLinks(_ a: Int, _ b: Int) {
        for id in activeSessions {
            for rank in sessions[id].ring.indices {
                guard let to = sessions[id].member[rank], let from = sessions[id].member[sessions[id].previous(rank)] else { continue }
                if (to.slot == a && from.slot == b) || (to.slot == b && from.slot == a) { sessions[id].cutIn[rank] = true }
            }
        }
    }
}
