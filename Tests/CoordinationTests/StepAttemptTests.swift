import Core
import Testing
import Wire
@testable import Coordination

@Suite struct StepAttemptTests {
    let t0 = ContinuousClock.now
    let a = WorkerID(1), b = WorkerID(2), c = WorkerID(3), d = WorkerID(4)

    func attempt(_ members: [WorkerID]) -> StepAttempt {
        StepAttempt(step: Step(ordinal: 7), generation: Generation(3), members: members, dealtAt: t0, deadline: t0 + .seconds(10), wantState: false)
    }

    func result(_ hash: UInt8) -> Wire.StepResult {
        Wire.StepResult(step: 7, losses: [], weightsHash: [hash], dataNanos: 0, computeNanos: 0, reduceNanos: 0, reduceBytes: 0, state: nil)
    }

    func failure(suspect: WorkerID, frames: UInt32) -> Wire.StepFailed {
        Wire.StepFailed(code: "collective.timeout", step: 7, text: "no frames", suspect: suspect, framesFromSuspect: frames)
    }

    @Test func unanimousResultsCommit() {
        var s = attempt([a, b, c])
        for id in [a, b, c] { s.results[id] = result(9) }
        #expect(s.verdict(now: t0) == .commit(hash: [9], dissenting: []))
    }

    @Test func aStrictMajorityCommitsAndTheDissentersAreNamed() {
        var s = attempt([a, b, c])
        s.results[a] = result(9); s.results[b] = result(5); s.results[c] = result(9)
        #expect(s.verdict(now: t0) == .commit(hash: [9], dissenting: [b]))
    }

    @Test func aTieCommitsNothingAndKeepsTheOldestMembersGroup() {
        var s = attempt([a, b, c, d])
        s.results[a] = result(1); s.results[b] = result(2); s.results[c] = result(2); s.results[d] = result(1)
        guard case .abandon(let culprits) = s.verdict(now: t0) else { Issue.record("a tie committed"); return }
        #expect(culprits.map(\.id) == [b, c])
        #expect(culprits.allSatisfy { $0.cause == .disagreement })
    }

    @Test func aPluralityWithoutAMajorityDoesNotCommit() {
        var s = attempt([a, b, c, d, WorkerID(5)])
        s.results[a] = result(3); s.results[b] = result(1); s.results[c] = result(1); s.results[d] = result(2)
        s.results[WorkerID(5)] = result(4)
        guard case .abandon(let culprits) = s.verdict(now: t0) else { Issue.record("2 of 5 committed"); return }
        #expect(Set(culprits.map(\.id)) == [b, c, d, WorkerID(5)], "everyone outside the oldest member's group goes")
    }

    @Test func silentMembersAreWaitedForUntilTheDeadlineThenEjected() {
        var s = attempt([a, b, c])
        s.results[a] = result(9)
        s.failures[b] = failure(suspect: a, frames: 3)
        #expect(s.verdict(now: t0 + .seconds(9)) == .wait)
        guard case .abandon(let culprits) = s.verdict(now: t0 + .seconds(10)) else { Issue.record("no verdict at the deadline"); return }
        #expect(culprits.map(\.id) == [c])
        #expect(culprits.first?.cause == .stall)
    }

    @Test func anOwnFailureAbandonsAtOnceAndBlamesTheReporter() {
        var s = attempt([a, b, c])
        s.failures[b] = Wire.StepFailed(code: "worker.data", step: 7, text: "bad sample", suspect: WorkerID(0), framesFromSuspect: 0)
        guard case .abandon(let culprits) = s.verdict(now: t0) else { Issue.record("waited on an own failure"); return }
        #expect(culprits.map(\.id) == [b])
        #expect(culprits.first?.cause == .memberFault)
    }

    @Test func blamingANonMemberIsTheReportersOwnFault() {
        var s = attempt([a, b])
        s.failures[a] = failure(suspect: WorkerID(77), frames: 0)
        guard case .abandon(let culprits) = s.verdict(now: t0) else { Issue.record("waited"); return }
        #expect(culprits.map(\.id) == [a])
    }

    @Test func theSuspectNearestTheCutIsEjected() {
        // Ring a → b → c → d, link b → c cut: c hears nothing from b (0 frames), d got one frame
        // from c, a got two from d, b got three from a.
        var s = attempt([a, b, c, d])
        s.failures[c] = failure(suspect: b, frames: 0)
        s.failures[d] = failure(suspect: c, frames: 1)
        s.failures[a] = failure(suspect: d, frames: 2)
        #expect(s.verdict(now: t0) == .wait, "b has not answered yet and the deadline is far")
        s.failures[b] = failure(suspect: a, frames: 3)
        guard case .abandon(let culprits) = s.verdict(now: t0) else { Issue.record("no verdict"); return }
        #expect(culprits.map(\.id) == [b])
        #expect(culprits.first?.cause == .linkFault)
    }

    @Test func equalFramesGoToTheSuspectNamedMostThenTheNewest() {
        var s = attempt([a, b, c])
        s.failures[a] = failure(suspect: c, frames: 0)
        s.failures[b] = failure(suspect: c, frames: 0)
        s.failures[c] = failure(suspect: b, frames: 0)
        guard case .abandon(let named) = s.verdict(now: t0) else { Issue.record("no verdict"); return }
        #expect(named.map(\.id) == [c], "named twice")
        var t = attempt([a, b])
        t.failures[a] = failure(suspect: b, frames: 0)
        t.failures[b] = failure(suspect: a, frames: 0)
        guard case .abandon(let newest) = t.verdict(now: t0) else { Issue.record("no verdict"); return }
        #expect(newest.map(\.id) == [b])
    }

    @Test func silentMembersAreTheCulpritsEvenWhenOthersBlameSomeoneElse() {
        var s = attempt([a, b, c])
        s.failures[a] = failure(suspect: c, frames: 0)
        s.failures[b] = failure(suspect: a, frames: 1)
        guard case .abandon(let culprits) = s.verdict(now: t0 + .seconds(11)) else { Issue.record("no verdict"); return }
        #expect(culprits.map(\.id) == [c])
        #expect(culprits.first?.cause == .stall)
    }
}
