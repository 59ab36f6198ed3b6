import Coordination
import Core
import Wire

/// A deterministic simulation of one run: a real `CoordinatorInstance` and a real
/// `WorkerInstance` per virtual worker, on a manual clock, with a seeded network and fault plan
/// between them. Compute and the ring all-reduce are modelled abstractly (`Simulator+Ring`).
/// After every event the invariants are checked; the first violation ends the run and is
/// returned with the seed, so that `GROVE_SIM_SEED=<seed>` replays it with a trace.
final class Simulator {
    /// The protocol's timing in simulated milliseconds, shared by every schedule.
    enum Timing {
        static let tick = 100
        static let heartbeatInterval = 500
        static let missedHeartbeats = 3
        static let collectiveTimeout = 1_000
        static let stepTimeout = 3_000
        static let drainTimeout = 3_000
        static let quarantineBase = 1_000
        static let quarantineMax = 4_000
        static let joinRetry = 3_000
        static let computeBase = 60
        static let computePerMicroBatch = 25
        static let reduce = 20
        static var heartbeatTimeout: Int { heartbeatInterval * missedHeartbeats }
    }

    struct Outcome {
        var seed: UInt64
        var violation: String?
        var trace: [String]
        var stop: CoordinatorInstance.StopReason?
        var simulatedMillis: Int
        var stats: SimStats
    }

    let plan: FaultPlan
    let t0 = ContinuousClock.now
    var now = 0
    var queue = SimEventQueue()
    var coordinator: CoordinatorInstance
    /// The training state the coordinator's shell holds: after which step, and its weights.
    var held: (step: Int, weights: UInt64)
    /// A state the shell streams from members (`fetchState`): its step, hash and sources. The
    /// stream is modelled as a `state` message from the member the grant reached.
    var pendingFetch: (step: Int, hash: [UInt8], sources: [WorkerID])?
    var network: SimNetwork
    var workers: [SimWorker] = []
    var workerSettings: WorkerInstance.Settings
    var nextProcess = 1
    /// Which slot and life a worker id was welcomed in.
    var slotOf: [WorkerID: (slot: Int, life: Int)] = [:]
    var sessions: [RingSession] = []
    var sessionIndex: [SessionKey: Int] = [:]
    var activeSessions: Set<Int> = []
    struct DealKey: Hashable {
        var generation: Generation
        var step: UInt64
        var peer: [UInt8]
    }
    var dealt: Set<DealKey> = []
    /// Bumped when the coordinator restarts: its connections, and what was in flight on them, die.
    var coordinatorEpoch = 0
    /// The newest checkpoint written: where a restarted coordinator resumes.
    var lastCheckpoint: (step: Int, weights: UInt64)
    var ledger: Ledger
    var rng: SplitMix64
    var faultsOver = false
    var finishedAt: Int?
    var stopRequestedAt: Int?
    /// When the coordinator decided to stop (for whatever reason).
    var stopBeganAt: Int?
    var lastGeneration = Generation(0)
    var coordinatorPointsPassed: Set<Int> = []
    var violation: String?
    var stats = SimStats()
    let tracing: Bool
    var trace: [String] = []
    /// Trace lines kept (the oldest quarter goes when full): a failure shows the last events.
    var traceLimit = 400

    init(plan: FaultPlan, tracing: Bool = false) {
        self.plan = plan
        self.tracing = tracing
        let stepPlan = StepPlan(sampleCount: plan.sampleCount, globalBatch: plan.microBatch * plan.microBatchesPerStep,
                                microBatch: plan.microBatch, seed: plan.seed)
        let policy = RunPolicy(
            totalSteps: plan.totalSteps, checkpointInterval: plan.checkpointInterval, evaluationInterval: plan.evaluationInterval,
            hasValidation: plan.evaluationInterval > 0, workersMin: plan.workersMin, startQuorum: plan.startQuorum,
            waitForWorkers: .milliseconds(plan.waitForWorkersMillis), collectiveTimeout: .milliseconds(Timing.collectiveTimeout),
            heartbeatTimeout: .milliseconds(Timing.heartbeatTimeout), stepTimeout: .milliseconds(Timing.stepTimeout),
            drainTimeout: .milliseconds(Timing.drainTimeout))
        var admission = Admission.Settings(schemaHash: 0x5EED, schemaName: "sim")
        admission.quarantineBase = .milliseconds(Timing.quarantineBase)
        admission.quarantineMax = .milliseconds(Timing.quarantineMax)
        let settings = CoordinatorInstance.Settings(
            runConfig: Wire.RunConfig(runName: "sim", configYAML: "seed: \(plan.seed)"),
            members: MemberTable.Settings(heartbeatInterval: .milliseconds(Timing.heartbeatInterval),
                                          missedHeartbeats: Timing.missedHeartbeats, maxMembers: plan.maxMembers, formerMembersKept: plan.formerMembersKept),
            admission: admission, policy: policy, plan: stepPlan)
        coordinator = CoordinatorInstance(settings: settings)
        workerSettings = WorkerInstance.Settings(
            sampleCount: plan.sampleCount, microBatchesPerStep: plan.microBatchesPerStep, microBatch: plan.microBatch,
            globalBatch: stepPlan.globalBatch, lossScaled: false, lossScaleTensor: "optim/loss_scale")
        let initial = Ledger.chain(plan.seed, step: 0, samples: [])
        held = (0, initial)
        lastCheckpoint = (0, initial)
        ledger = Ledger(initial: initial, plan: stepPlan)
        network = SimNetwork(seed: plan.seed, plan: plan)
        rng = SplitMix64(seed: plan.seed, stream: 3)
    }

    var instant: ContinuousClock.Instant { t0 + .milliseconds(now) }

    /// After the faults stop, the run must finish within this. First the membership settles:
    /// members that died are declared down (heartbeat timeout), processes that were told so or
    /// refused join again (a handshake retry, a heartbeat interval's wait) and serve at most the
    /// longest quarantine. Then every step, plus two attempts that go wrong (a member's lease
    /// overtaken by its ejection, a late report), takes at most one step deadline; then the
    /// final drain. Observed recoveries use a few per cent of it (the campaign prints the most).
    var livenessBound: Int {
        let stepDeadline = max(Timing.stepTimeout, Timing.collectiveTimeout + Timing.heartbeatTimeout)
        let settle = Timing.heartbeatTimeout + Timing.joinRetry + Timing.heartbeatInterval + Timing.quarantineMax
        return settle + (plan.totalSteps + 2) * stepDeadline + Timing.drainTimeout
    }

    func run() -> Outcome {
        for _ in 0..<plan.workers { spawnWorker() }
        for timed in plan.timed { queue.schedule(.fault(timed.fault), at: timed.at) }
        queue.schedule(.faultsEnd, at: plan.faultsEnd)
        queue.schedule(.coordinatorTick, at: 0)
        if let liar = plan.liar { workers[liar].corrupt = true; stats.count("corrupt member") }
        if plan.nonFiniteStep != nil { stats.count("non-finite step") }
        let horizon = plan.faultsEnd + livenessBound
        while violation == nil, finishedAt == nil, let (at, event) = queue.pop() {
            if at > horizon { break }
            now = at
            handle(event)
            checkAfterEvent()
        }
        if violation == nil { checkAtEnd(horizon: horizon) }
        stats.absorb(network.counters, coordinator.counters)
        return Outcome(seed: plan.seed, violation: violation, trace: trace, stop: coordinator.stopReason, simulatedMillis: now,
                       stats: stats)
    }

    func fail(_ text: String) {
        if violation == nil { violation = "at \(now) ms: \(text)" }
    }

    func note(_ text: @autoclosure () -> String) {
        guard tracing else { return }
        trace.append("\(now) ms \(text())")
        if trace.count > traceLimit { trace.removeFirst(traceLimit / 4) }
    }

    private func handle(_ event: SimEvent) {
        switch event {
        case .deliver(let packet):
            if packet.to == -1 { coordinatorReceives(packet) } else { workerReceives(packet) }
        case .coordinatorTick:
            perform(coordinator.onTick(now: instant))
            if finishedAt == nil { queue.schedule(.coordinatorTick, at: now + Timing.tick) }
        case .worker(let slot, let life, let timer):
            workerTimer(slot: slot, life: life, timer)
        case .ringComplete(let session):
            completeRing(session)
        case .fault(let fault):
            inject(fault)
        case .faultsEnd:
            endFaults()
        case .restart(let slot):
            restart(slot)
        }
    }

    // MARK: Faults

    private func inject(_ fault: FaultPlan.Fault) {
        guard !faultsOver else { return }
        note("fault \(fault)")
        switch fault {
        case .crash(let slot, let restartAfter):
            guard workers[slot].isRunning else { return }
            stats.count("crash")
            crash(slot)
            if let restartAfter { queue.schedule(.restart(slot: slot), at: now + restartAfter) }
        case .pause(let slot, let millis):
            guard workers[slot].isRunning, workers[slot].pausedUntil == nil else { return }
            stats.count("pause")
            workers[slot].pausedUntil = now + millis
            leaveSession(slot, reportsLater: true)
        case .partition(let a, let b, let millis):
            stats.count(a == -1 || b == -1 ? "partition coordinator–worker" : "partition worker–worker")
            network.cut(a, b, until: now + millis)
            cutRingLinks(a, b)
        case .slow(let slot, let factor):
            stats.count("slow member")
            workers[slot].slowFactor = factor
        case .drain(let slot):
            guard workers[slot].isRunning else { return }
            stats.count("drain")
            drain(slot)
        case .join:
            stats.count("join")
            spawnWorker()
        case .restartCoordinator:
            // After a requested stop the operator's intent died with the coordinator; not modelled.
            guard stopRequestedAt == nil else { return }
            stats.count("coordinator restart (resume from checkpoint)")
            restartCoordinator()
        case .stop:
            guard stopRequestedAt == nil else { return }
            stats.count("stop requested")
            stopRequestedAt = now
            perform(coordinator.onStopRequested("simulated SIGTERM", now: instant))
        }
    }

    /// The faults stop: the network is clean again, everyone paused resumes, slow members speed
    /// up, corrupt ones turn honest, and every process that ended is started again, so that the
    /// run can (and must) finish within `livenessBound`.
    private func endFaults() {
        faultsOver = true
        network.hostile = false
        network.healAll()
        for slot in workers.indices {
            workers[slot].slowFactor = 1
            workers[slot].corrupt = false
            if let until = workers[slot].pausedUntil, until > now { workers[slot].pausedUntil = now }
            if !workers[slot].isRunning { restart(slot) }
        }
        note("faults end")
    }

    func crash(_ slot: Int) {
        leaveSession(slot, reportsLater: false)
        workers[slot].phase = .crashed
        workers[slot].life += 1
    }

    private func restart(_ slot: Int) {
        guard !workers[slot].isRunning else { return }
        stats.count("restart")
        let corrupt = workers[slot].corrupt
        workers[slot] = SimWorker(slot: slot, process: nextProcess, settings: workerSettings)
        workers[slot].life = 1_000 * nextProcess
        workers[slot].corrupt = corrupt && !faultsOver
        nextProcess += 1
        sayHello(slot)
    }

    private func spawnWorker() {
        let slot = workers.count
        workers.append(SimWorker(slot: slot, process: nextProcess, settings: workerSettings))
        workers[slot].life = 1_000 * nextProcess
        nextProcess += 1
        sayHello(slot)
    }

    /// A coordinator-side protocol point was reached: a worker joins, if the plan says so.
    func passCoordinatorPoint(_ point: FaultPlan.CoordinatorPoint) {
        guard !faultsOver, let index = FaultPlan.CoordinatorPoint.allCases.firstIndex(of: point),
              plan.joinAt.contains(point), coordinatorPointsPassed.insert(index).inserted else { return }
        stats.count("join at \(point)")
        note("join at \(point)")
        spawnWorker()
    }

    // MARK: Invariants

    private func checkAfterEvent() {
        let generation = coordinator.generation
        if generation < lastGeneration { fail("the coordinator's generation went back from \(lastGeneration) to \(generation)") }
        lastGeneration = generation
        if coordinator.committed != ledger.committed {
            fail("the coordinator has \(coordinator.committed) committed steps, its shell recorded \(ledger.committed)")
        }
        if stopBeganAt == nil && coordinator.stopReason != nil { stopBeganAt = now }
        if coordinator.committed > plan.totalSteps { fail("committed \(coordinator.committed) of \(plan.totalSteps) steps") }
    }

    private func checkAtEnd(horizon: Int) {
        if let stopRequestedAt {
            // A requested stop finishes within the drain budget (plus the tick that notices it).
            let bound = stopRequestedAt + Timing.drainTimeout + 2 * Timing.tick
            if let finishedAt, finishedAt <= bound { return }
            return fail("a stop requested at \(stopRequestedAt) ms had not finished by \(bound) ms")
        }
        guard let finishedAt, let reason = coordinator.stopReason else {
            return fail("liveness: the run had not finished \(livenessBound) ms after the faults stopped "
                + "(committed \(coordinator.committed) of \(plan.totalSteps))")
        }
        switch reason {
        case .completed:
            if coordinator.committed != plan.totalSteps { fail("completed with \(coordinator.committed) of \(plan.totalSteps) steps") }
            if held.step != plan.totalSteps {
                // The stop waits for the last state only within the drain budget; under faults a
                // member may not deliver it in time, and the last checkpoint is then older.
                if (stopBeganAt ?? finishedAt) > plan.faultsEnd {
                    fail("completed after the faults, but the shell holds the state after step \(held.step)")
                }
                stats.count("completed with an older final state (faults during the stop)")
            }
        case .noWorkers:
            // Legitimate only if decided while members could be missing: during the faults, or
            // with a wait shorter than a quarantine plus a rejoin. (The stop itself may end later.)
            let shortWait = plan.waitForWorkersMillis < Timing.quarantineMax + Timing.heartbeatTimeout + Timing.joinRetry
            if (stopBeganAt ?? finishedAt) > plan.faultsEnd && !shortWait {
                fail("stopped for want of workers after the faults stopped: \(reason)")
            }
        case .nonFinite(let step, _):
            // Only where the plan put it, and nothing of that step (or after it) is committed.
            if step.ordinal != plan.nonFiniteStep || Step(after: coordinator.committed) != step {
                fail("stopped as not finite at step \(step) with \(coordinator.committed) committed; the plan says \(plan.nonFiniteStep.map(String.init) ?? "never")")
            }
        case .requested, .dataFault:
            // The plans request no stop here and no member reports an unreadable sample.
            fail("stopped unexpectedly: \(reason)")
        }
        stats.count("finished \(reason.failureCode ?? "ok")")
        if case .completed = reason, finishedAt > plan.faultsEnd {
            // How much of the liveness bound the slowest recovery used, in per mille.
            stats.record(max: "share of the liveness bound used after the faults (per mille)",
                         (finishedAt - plan.faultsEnd) * 1000 / livenessBound)
            stats.record(max: "ms from the faults' end to the finish", finishedAt - plan.faultsEnd)
        }
    }
}
