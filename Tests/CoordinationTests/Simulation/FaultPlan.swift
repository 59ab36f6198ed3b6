import Core

/// One seeded schedule: the cluster's shape and settings, and every fault the simulator injects.
/// The same seed always gives the same plan, so a failing seed replays exactly.
///
/// Times are simulated milliseconds from the start. All faults happen before `faultsEnd`; from
/// then on the network is clean, paused members resume, partitions heal, slow members speed up, a
/// lying member turns honest and dead processes are restarted, so that the run must finish within
/// `Simulator.livenessBound`.
struct FaultPlan: CustomStringConvertible {
    /// Where in the protocol a worker-side fault fires: the first time that worker gets there.
    enum WorkerPoint: CaseIterable {
        case welcomed, stateInstalled, leaseAccepted, ringDone, resultSent, commitApplied, stateRequested
    }

    /// Where in the protocol a new worker joins: the first time the coordinator gets there.
    enum CoordinatorPoint: CaseIterable {
        case dealt, committed, stateSent, stateRequested, generationChanged
    }

    enum Fault {
        /// The process dies (kill -9); `restartAfter` starts a new process on the same host later.
        case crash(slot: Int, restartAfter: Int?)
        /// SIGSTOP for a while: timers and messages wait, then it goes on as if nothing happened.
        case pause(slot: Int, millis: Int)
        /// Every message between two nodes (-1 is the coordinator) is lost while the cut lasts.
        case partition(Int, Int, millis: Int)
        /// The member computes `factor` times slower until the faults stop.
        case slow(slot: Int, factor: Int)
        /// A spot notice: the worker leaves with `drain`.
        case drain(slot: Int)
        /// A new worker process starts and joins.
        case join
        /// The operator asks the run to stop.
        case stop
        /// The coordinator is killed and resumed from its newest checkpoint (its connections die
        /// with it; workers are told to join the new one as new incarnations).
        case restartCoordinator
    }

    struct Timed {
        var at: Int
        var fault: Fault
    }

    var seed: UInt64
    var workers: Int
    var totalSteps: Int
    var sampleCount: Int
    var microBatch: Int
    var microBatchesPerStep: Int
    var workersMin: Int
    var startQuorum: Int
    var waitForWorkersMillis: Int
    var checkpointInterval: Int
    var evaluationInterval: Int
    var faultsEnd: Int
    /// workers.max: sometimes just the machines there are, so that joins meet a full run.
    var maxMembers = 64
    /// Down members remembered: sometimes very few, so that the oldest are forgotten mid-run.
    var formerMembersKept = 32
    var timed: [Timed] = []
    var crashAt: [(slot: Int, point: WorkerPoint)] = []
    var drainAt: [(slot: Int, point: WorkerPoint)] = []
    var joinAt: [CoordinatorPoint] = []
    /// A step whose loss is not finite (a sample that diverges): the run must stop there, after
    /// the last good commit.
    var nonFiniteStep: Int?
    /// The member that computes corrupt weights (and so reports a hash the others do not hold).
    var liar: Int?
    /// Hostile network behaviour, per message, while faults last (per mille).
    var dropPerMille = 0
    var duplicatePerMille = 0
    var delayPerMille = 0

    init(seed: UInt64) {
        self.seed = seed
        var rng = SplitMix64(seed: seed, stream: 1)
        func pick(_ range: ClosedRange<Int>) -> Int { range.lowerBound + rng.nextInt(below: range.count) }
        func chance(_ perMille: Int) -> Bool { rng.nextInt(below: 1000) < perMille }
        workers = pick(2...6)
        totalSteps = pick(3...12)
        microBatch = pick(1...3)
        microBatchesPerStep = pick(1...8)
        // Few samples, so that steps straddle data epochs and epochs wrap within a run.
        sampleCount = microBatch * microBatchesPerStep * pick(1...4) + pick(0...5)
        workersMin = pick(1...max(1, workers - 1))
        startQuorum = chance(700) ? workers : pick(workersMin...workers)
        waitForWorkersMillis = chance(800) ? 60_000 : pick(2_000...10_000)
        checkpointInterval = pick(0...4)
        evaluationInterval = pick(0...4)
        faultsEnd = pick(1_000...20_000)
        if chance(300) { maxMembers = workers + pick(0...1) }
        if chance(200) { formerMembersKept = pick(1...3) }
        let quiet = chance(100)  // some schedules have no faults at all: the baseline must pass too
        if quiet { faultsEnd = 0; return }
        let nodes = workers
        for _ in 0..<pick(0...6) {
            let at = pick(0...faultsEnd - 1)
            let slot = pick(0...nodes - 1)
            let fault: Fault
            switch rng.nextInt(below: 9) {
            case 0: fault = .crash(slot: slot, restartAfter: chance(600) ? pick(200...5_000) : nil)
            case 1: fault = .pause(slot: slot, millis: pick(100...6_000))
            case 2, 3:
                // Worker–worker links only, or a worker cut off from the coordinator.
                let other = chance(500) ? -1 : pick(0...nodes - 1)
                fault = other == slot ? .pause(slot: slot, millis: pick(100...3_000)) : .partition(slot, other, millis: pick(100...6_000))
            case 4: fault = .slow(slot: slot, factor: pick(2...8))
            case 5: fault = .drain(slot: slot)
            case 6, 7: fault = .join
            default: fault = chance(300) ? .stop : .join
            }
            timed.append(Timed(at: at, fault: fault))
        }
        for _ in 0..<pick(0...2) {
            let point = FaultPlan.WorkerPoint.allCases[rng.nextInt(below: FaultPlan.WorkerPoint.allCases.count)]
            if chance(500) { crashAt.append((pick(0...nodes - 1), point)) } else { drainAt.append((pick(0...nodes - 1), point)) }
        }
        for _ in 0..<pick(0...2) {
            joinAt.append(FaultPlan.CoordinatorPoint.allCases[rng.nextInt(below: FaultPlan.CoordinatorPoint.allCases.count)])
        }
        if workers >= 3 && chance(250) { liar = pick(0...nodes - 1) }
        if chance(30) { nonFiniteStep = pick(1...totalSteps) }
        if chance(60) { timed.append(Timed(at: pick(0...faultsEnd - 1), fault: .restartCoordinator)) }
        if chance(300) { duplicatePerMille = pick(1...80) }
        if chance(300) { delayPerMille = pick(1...80) }
        if chance(200) { dropPerMille = pick(1...30) }
    }

    /// A plan with no faults at all, for scenarios that add exactly the faults they test.
    static func quiet(seed: UInt64, workers: Int, steps: Int) -> FaultPlan {
        var plan = FaultPlan(seed: seed)
        plan.workers = workers
        plan.totalSteps = steps
        plan.microBatch = 2
        plan.microBatchesPerStep = 4
        plan.sampleCount = 20
        plan.workersMin = 1
        plan.startQuorum = workers
        plan.waitForWorkersMillis = 60_000
        plan.checkpointInterval = 2
        plan.evaluationInterval = 3
        plan.faultsEnd = 15_000
        plan.timed = []
        plan.crashAt = []
        plan.drainAt = []
        plan.joinAt = []
        plan.liar = nil
        plan.nonFiniteStep = nil
        (plan.dropPerMille, plan.duplicatePerMille, plan.delayPerMille) = (0, 0, 0)
        return plan
    }

    var description: String {
        var parts = ["seed \(seed): \(workers) workers, \(totalSteps) steps, \(microBatchesPerStep)×\(microBatch) samples a step of \(sampleCount)",
                     "min \(workersMin), start quorum \(startQuorum), wait \(waitForWorkersMillis) ms, faults until \(faultsEnd) ms"]
        for t in timed.sorted(by: { $0.at < $1.at }) { parts.append("  at \(t.at) ms: \(t.fault)") }
        for c in crashAt { parts.append("  crash w-slot \(c.slot) at \(c.point)") }
        for d in drainAt { parts.append("  drain w-slot \(d.slot) at \(d.point)") }
        for j in joinAt { parts.append("  join at \(j)") }
        if let liar { parts.append("  slot \(liar) computes corrupt weights") }
        if let nonFiniteStep { parts.append("  step \(nonFiniteStep) has a loss that is not finite") }
        parts.append("  workers.max \(maxMembers), former members kept \(formerMembersKept)")
        parts.append("  network per mille: drop \(dropPerMille), duplicate \(duplicatePerMille), delay \(delayPerMille)")
        return parts.joined(separator: "\n")
    }
}
