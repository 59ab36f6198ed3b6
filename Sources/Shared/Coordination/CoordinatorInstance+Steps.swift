import Core
import Wire

extension CoordinatorInstance {
    // MARK: Dealing

    /// Admits joiners at this step boundary and deals the next step when the quorum is there.
    mutating func nextStep(now: ContinuousClock.Instant) -> [Directive] {
        guard committed < policy.totalSteps else { return beginStop(.completed, now: now) }
        var out: [Directive] = []
        if table.ring.isEmpty && heldStateStep < committed {
            // Every replica of the committed state is gone: go back to the state held here.
            counters.rollbacks += 1
            out.append(.rollback(from: committed, to: heldStateStep))
            committed = heldStateStep
            committedHash = nil
        }
        out += admitJoiners(now: now)
        let ready = table.ring.count
        let enough = startedTraining ? ready >= policy.workersMin : ready >= policy.startQuorum
        if enough {
            startedTraining = true
            waitingSince = nil
            return out + deal(step: Step(after: committed), now: now)
        }
        guard let since = waitingSince else {
            waitingSince = now
            if startedTraining {
                out.append(.event(.paused(ready: ready, needed: policy.workersMin, waitSeconds: policy.waitForWorkers.inSeconds)))
            }
            return out
        }
        guard since.duration(to: now) > policy.waitForWorkers else { return out }
        if !startedTraining && ready >= policy.workersMin {
            startedTraining = true
            waitingSince = nil
            return out + deal(step: Step(after: committed), now: now)
        }
        let text = "only \(ready) of workers.min = \(policy.workersMin) workers were up for "
            + "\(String(format: "%g", policy.waitForWorkers.inSeconds)) s (fault_tolerance.wait_for_workers)"
        return out + beginStop(.noWorkers(text), now: now)
    }

    /// Joiners get the exact current state and enter the ring at a step boundary: they fetch it
    /// from the ring members, which all hold the last commit there, or from the shell's own state
    /// server when it holds that state (the first start, a resume, a ring that emptied).
    mutating func admitJoiners(now: ContinuousClock.Instant) -> [Directive] {
        let eligible = table.joining.filter { $0.admitAfter <= now }
        let shellHolds = heldStateStep == committed
        guard !eligible.isEmpty, shellHolds || !table.ring.isEmpty else { return [] }
        var sources = table.ring.map { Wire.Member(worker: $0.id, ringEndpoint: $0.stateEndpoint) }
        if shellHolds { sources.append(Wire.Member(worker: WorkerID(0), ringEndpoint: "")) }
        var out: [Directive] = [.sendState(to: eligible.map(\.peer), step: committed, hash: committedHash, sources: sources)]
        if let generation = table.admit(eligible.map(\.id)) {
            out.append(.event(.generation(generation, ring: table.ring.map(\.id))))
        }
        return out
    }

    /// The members asked for a state, in order: the member a request went to last goes last, so
    /// that one that does not answer is not asked forever.
    func stateSources(among ids: [WorkerID]) -> [Wire.Member] {
        let members = ids.compactMap { table.members[$0] }.filter { $0.status < .down }
        let last = lastAsked ?? WorkerID(0)
        let after = members.filter { $0.id > last }
        let before = members.filter { $0.id <= last }
        return (after + before).map { Wire.Member(worker: $0.id, ringEndpoint: $0.stateEndpoint) }
    }

    mutating func deal(step: Step, now: ContinuousClock.Instant) -> [Directive] {
        let ring = table.ring
        let generation = table.generation
        // Joiners fetch from the members, so only a checkpoint or an evaluation needs the state
        // here. The lease says so: members keep serving that step's state after the next commit,
        // for the fetch that follows this one's commit (workers of minor 5 never attach it).
        let wantState = policy.checkpointDue(step.ordinal) || policy.evaluationDue(step.ordinal)
        let members = ring.map { Wire.Member(worker: $0.id, ringEndpoint: $0.ringEndpoint) }
        let perStep = plan.microBatchesPerStep
        let shares = StepPlan.deal(microBatches: perStep, members: ring.count)
        var out: [Directive] = []
        leaseSent = [:]
        for (member, share) in zip(ring, shares) {
            let batches = share.map { index in
                Wire.MicroBatch(id: MicroBatchID(UInt32(index)), samples: plan.microBatch(index, ofStep: step).map { UInt32($0) })
            }
            let lease = Wire.Lease(step: step.wire, ring: members, microBatches: batches, totalMicroBatches: UInt32(perStep),
                                   globalBatch: UInt32(plan.globalBatch), wantState: wantState)
            leaseSent[member.id] = now
            out.append(.send(.lease(lease), to: member.peer))
        }
        counters.workersMax = max(counters.workersMax, ring.count)
        attempt = StepAttempt(step: step, generation: generation, members: ring.map(\.id), dealtAt: now,
                              deadline: now + policy.stepBudget(recent: recentStepDurations), wantState: wantState)
        return out
    }

    // MARK: Deciding

    mutating func decide(_ verdict: StepAttempt.Verdict, now: ContinuousClock.Instant) -> [Directive] {
        guard let attempt else { return [] }
        switch verdict {
        case .wait:
            return []
        case .commit(let hash, let dissenting):
            var out: [Directive] = []
            for id in dissenting {
                out += eject(id, reason: "its weights after step \(attempt.step) disagree with the majority's", cause: .disagreement,
                             now: now, abandonAttempt: false)
            }
            out += commit(attempt, hash: hash, now: now)
            return out
        case .abandon(let culprits):
            var out: [Directive] = []
            for (id, failure) in attempt.failures where failure.code.hasPrefix("sample.") {
                let key = "\(failure.code): \(failure.text)"
                if dataFaults[key] == nil && dataFaults.count >= 1024 { dataFaults.removeAll() }
                dataFaults[key, default: []].insert(id)
                if dataFaults[key]!.count >= 2 {
                    out += abandon(cause: .stop, now: now, fence: true)
                    return out + beginStop(.dataFault(LogText.escape(key, limit: 1000)), now: now)
                }
            }
            let cause = culprits.first?.cause ?? .leave
            out += abandon(cause: cause, now: now)
            for culprit in culprits { out += eject(culprit.id, reason: culprit.reason, cause: culprit.cause, now: now) }
            if culprits.isEmpty {
                // Nobody to blame (cannot happen with members present); fence the attempt anyway.
                let generation = table.startGeneration()
                out.append(.event(.generation(generation, ring: table.ring.map(\.id))))
            }
            return out
        }
    }

    mutating func commit(_ attempt: StepAttempt, hash: [UInt8], now: ContinuousClock.Instant) -> [Directive] {
        let agreeing = attempt.results.filter { $0.value.weightsHash == hash }
        if let bad = agreeing.values.lazy.flatMap(\.losses).first(where: { !$0.loss.isFinite }) {
            // Nothing of this step is committed; the replicas restore their pre-step state when
            // asked for the last good one.
            var out = abandon(cause: .stop, now: now, fence: true)
            out += beginStop(.nonFinite(step: attempt.step, detail: "sample \(bad.sample) has loss \(bad.loss)"), now: now)
            return out
        }
        self.attempt = nil
        committed = attempt.step.ordinal
        committedHash = hash
        recentStepDurations.append(attempt.dealtAt.duration(to: now))
        if recentStepDurations.count > 16 { recentStepDurations.removeFirst() }
        var out: [Directive] = [.commit(CommitRecord(
            step: attempt.step, generation: attempt.generation, hash: hash, members: attempt.members,
            results: agreeing, dealtAt: attempt.dealtAt, leaseSent: leaseSent))]
        if attempt.wantState {
            // Any member that agreed holds the state; the shell streams it from one of them.
            let sources = stateSources(among: agreeing.keys.sorted())
            out.append(.fetchState(step: attempt.step.ordinal, hash: hash, sources: sources))
            // A stop that begins meanwhile waits for this fetch instead of starting another.
            if let first = sources.first { stateRequest = (first.worker, attempt.step.ordinal, now + policy.stepDeadlineFloor) }
        }
        return out + removeDrained()
    }

    /// Takes members that announced a drain out of the ring once the attempt they were in is
    /// decided (committed or given up): a new generation without them.
    mutating func removeDrained() -> [Directive] {
        var generation: Generation?
        for member in table.live where member.status == .draining {
            generation = table.remove(member.id, reason: "drained") ?? generation
        }
        guard let generation else { return [] }
        return [.event(.generation(generation, ring: table.ring.map(\.id)))]
    }

    /// Gives up the attempt in flight (if any) and records why.
    mutating func abandon(cause: RedoCause, now: ContinuousClock.Instant, fence: Bool = false) -> [Directive] {
        guard let attempt else { return [] }
        self.attempt = nil
        counters.redealtSteps += 1
        var out: [Directive] = [.event(.abandoned(AbandonedAttempt(
            step: attempt.step, generation: attempt.generation, cause: cause, dealtAt: attempt.dealtAt, members: attempt.members.count)))]
        if fence {
            let generation = table.startGeneration()
            out.append(.event(.generation(generation, ring: table.ring.map(\.id))))
        }
        return out + removeDrained()
    }

    // MARK: Members leaving

    /// Takes a member out; if it was in the ring, a new generation starts and the attempt in flight
    /// is dealt again.
    mutating func removeMember(_ id: WorkerID, reason: String, cause: RedoCause, now: ContinuousClock.Instant) -> [Directive] {
        guard let generation = table.remove(id, reason: reason) else { return [] }
        var out: [Directive] = []
        if let attempt, attempt.members.contains(id) || attempt.generation < generation {
            out += abandon(cause: cause, now: now)
        }
        out.append(.event(.generation(generation, ring: table.ring.map(\.id))))
        return out
    }

    /// Ejects a member: it is told so (and may join again, after a quarantine), its process is
    /// remembered, and the ring goes on without it.
    mutating func eject(_ id: WorkerID, reason: String, cause: RedoCause, now: ContinuousClock.Instant,
                        abandonAttempt: Bool = true) -> [Directive] {
        guard let member = table.members[id], member.status < .down else { return [] }
        counters.ejections += 1
        admission.recordEjection(process: member.process, now: now)
        var out: [Directive] = [
            .event(.ejected(id, reason: reason)),
            .send(.reject(Wire.Reject(reason: .declaredDown, text: "\(id) was ejected: \(reason); join again as a new worker")),
                  to: member.peer),
        ]
        toldDown[member.peer] = now
        if abandonAttempt {
            out += removeMember(id, reason: "ejected", cause: cause, now: now)
        } else if let generation = table.remove(id, reason: "ejected") {
            out.append(.event(.generation(generation, ring: table.ring.map(\.id))))
        }
        return out
    }

    // MARK: Stopping

    mutating func beginStop(_ reason: StopReason, now: ContinuousClock.Instant) -> [Directive] {
        guard stopReason == nil else { return [] }
        stopReason = reason
        stopDeadline = now + policy.drainTimeout
        var out: [Directive] = []
        switch reason {
        case .completed: break
        case .requested(let why): out.append(.event(.stopping(why)))
        case .nonFinite(let step, let detail): out.append(.event(.stopping("step \(step) is not finite: \(detail)")))
        case .noWorkers(let text): out.append(.event(.stopping(text)))
        case .dataFault(let text): out.append(.event(.stopping("two members could not read the same sample: \(text)")))
        }
        return out + advanceStop(now: now)
    }

    /// The stop, one stage at a time: let the step in flight finish (within the drain budget),
    /// make sure the last commit's state is held, checkpoint it, finish.
    mutating func advanceStop(now: ContinuousClock.Instant) -> [Directive] {
        guard let reason = stopReason, !finished else { return [] }
        let deadline = stopDeadline ?? now
        var out: [Directive] = []
        if attempt != nil {
            if case .requested = reason, now < deadline { return [] }
            out += abandon(cause: .stop, now: now, fence: true)
        }
        if heldStateStep < committed && committedHash != nil && now < deadline {
            if let request = stateRequest, request.step == committed, now < request.until,
               table.ring.contains(where: { $0.id == request.from }) {
                return out
            }
            // One member at a time, each for at most the step deadline floor: a member that does
            // not answer (stopped, cut off) must not cost the run its last state.
            let sources = stateSources(among: table.ring.map(\.id))
            if let first = sources.first, let hash = committedHash {
                stateRequest = (first.worker, committed, min(deadline, now + policy.stepDeadlineFloor))
                lastAsked = first.worker
                return out + [.event(.stateRequested(step: committed, from: first.worker)),
                              .fetchState(step: committed, hash: hash, sources: [first])]
            }
        }
        if heldStateStep > lastCheckpointed {
            lastCheckpointed = heldStateStep
            out.append(.checkpoint(step: heldStateStep))
        }
        finished = true
        out.append(.finish(reason))
        return out
    }
}
