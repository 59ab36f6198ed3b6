import Coordination
import Core
import Testing

/// Hand-picked schedules: each names one fault and checks both that the simulator injected it and
/// what the coordinator made of it, on top of the invariants every schedule checks.
@Suite struct SimulationScenarioTests {
    func run(_ plan: FaultPlan) -> Simulator.Outcome {
        let outcome = Simulator(plan: plan, tracing: true).run()
        if let violation = outcome.violation {
            Issue.record("\(violation)\n\(plan)\n\(outcome.trace.suffix(30).joined(separator: "\n"))")
        }
        return outcome
    }

    @Test func aRunWithoutFaultsCompletesWithoutEjectingAnyone() {
        let outcome = run(.quiet(seed: 1, workers: 3, steps: 6))
        #expect(outcome.stop == .completed)
        #expect(outcome.stats.counts["coordinator: ejections"] == nil)
        #expect(outcome.stats.counts["checkpoints written"] == 3, "steps 2, 4 and 6")
    }

    @Test(arguments: FaultPlan.WorkerPoint.allCases)
    func aCrashAtEveryWorkerPointKeepsTheInvariants(_ point: FaultPlan.WorkerPoint) {
        var plan = FaultPlan.quiet(seed: 2, workers: 3, steps: 6)
        plan.crashAt = [(0, point)]
        let outcome = run(plan)
        #expect(outcome.stop == .completed)
        if point != .stateRequested { #expect(outcome.stats.counts["crash at \(point)"] == 1) }
    }

    @Test(arguments: FaultPlan.WorkerPoint.allCases)
    func aDrainAtEveryWorkerPointKeepsTheInvariants(_ point: FaultPlan.WorkerPoint) {
        var plan = FaultPlan.quiet(seed: 3, workers: 3, steps: 6)
        plan.drainAt = [(1, point)]
        let outcome = run(plan)
        #expect(outcome.stop == .completed)
        if point != .stateRequested { #expect(outcome.stats.counts["drain at \(point)"] == 1) }
    }

    @Test(arguments: FaultPlan.CoordinatorPoint.allCases)
    func aJoinAtEveryCoordinatorPointKeepsTheInvariants(_ point: FaultPlan.CoordinatorPoint) {
        var plan = FaultPlan.quiet(seed: 4, workers: 2, steps: 6)
        plan.joinAt = [point]
        let outcome = run(plan)
        #expect(outcome.stop == .completed)
        if point != .stateRequested { #expect(outcome.stats.counts["join at \(point)"] == 1) }
    }

    @Test func aCutBetweenTwoWorkersEjectsOneAndTheStepIsRedone() {
        // In a ring of three every pair of members is adjacent, so the cut is on a ring link.
        var plan = FaultPlan.quiet(seed: 5, workers: 3, steps: 6)
        plan.timed = [.init(at: 150, fault: .partition(0, 1, millis: 2_500))]
        let outcome = run(plan)
        #expect(outcome.stop == .completed)
        #expect(outcome.stats.counts["coordinator: ejections", default: 0] >= 1)
        #expect(outcome.stats.counts["coordinator: steps dealt again", default: 0] >= 1)
        #expect(outcome.trace.contains { $0.contains("its ring link failed") }, "the culprit is found by the reports, not by silence")
    }

    @Test func aMemberWithCorruptWeightsIsOutvotedAndEjected() {
        var plan = FaultPlan.quiet(seed: 6, workers: 3, steps: 6)
        plan.liar = 2
        let outcome = run(plan)
        #expect(outcome.stop == .completed)
        #expect(outcome.trace.contains { $0.contains("disagree with the majority") })
    }

    @Test func aWorkerCutOffFromTheCoordinatorIsDeclaredDownAndRejoins() {
        // Long enough a run that the cut heals while it goes on.
        var plan = FaultPlan.quiet(seed: 7, workers: 3, steps: 20)
        plan.timed = [.init(at: 200, fault: .partition(1, -1, millis: 2_000))]
        let outcome = run(plan)
        #expect(outcome.trace.contains { $0.contains("event toldDown") }, "its late heartbeat is answered with declaredDown")
        #expect(outcome.stop == .completed)
        #expect(outcome.trace.contains { $0.contains("no heartbeat") })
        #expect(outcome.stats.counts["coordinator: rejoins", default: 0] >= 1)
    }

    @Test func aRestartedCoordinatorResumesFromItsCheckpointAndTheWorkersComeBack() {
        var plan = FaultPlan.quiet(seed: 10, workers: 3, steps: 16)
        plan.checkpointInterval = 4
        plan.timed = [.init(at: 1_500, fault: .restartCoordinator)]
        let outcome = run(plan)
        #expect(outcome.stop == .completed)
        #expect(outcome.stats.counts["coordinator restart (resume from checkpoint)"] == 1)
        // The workers speak as members the new coordinator never had: it tells them to rejoin.
        #expect(outcome.trace.filter { $0.contains("event toldDown") }.count >= 3)
    }

    @Test func aRequestedStopFinishesWithinTheDrainBudget() {
        var plan = FaultPlan.quiet(seed: 8, workers: 3, steps: 12)
        plan.timed = [.init(at: 700, fault: .stop)]
        let outcome = run(plan)
        #expect(outcome.stop == .requested("simulated SIGTERM"))
    }

    @Test func theLivenessCheckCatchesARunThatCannotFinish() {
        // Three workers are needed and only two exist: the run waits for wait_for_workers (60 s),
        // longer than the liveness bound, which the simulator must report.
        var plan = FaultPlan.quiet(seed: 9, workers: 2, steps: 3)
        plan.workersMin = 3
        plan.startQuorum = 3
        plan.faultsEnd = 1_000
        let outcome = Simulator(plan: plan).run()
        #expect(outcome.violation?.contains("liveness: the run had not finished") == true, "\(outcome.violation ?? "no violation")")
        plan.waitForWorkersMillis = 5_000
        // With a short wait the coordinator gives up for want of workers, as configured: not a
        // violation, since a rejoin could take longer than that wait.
        let shortWait = Simulator(plan: plan).run()
        #expect(shortWait.violation == nil, "\(shortWait.violation ?? "")")
        #expect(shortWait.stop?.failureCode == "run.no-workers")
    }
}
