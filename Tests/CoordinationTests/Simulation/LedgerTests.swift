@testable import Coordination
import Core
import Testing
import Wire

/// The simulator's invariant checker must itself catch what it claims to.
@Suite struct LedgerTests {
    let t0 = ContinuousClock.now
    let plan = StepPlan(sampleCount: 6, globalBatch: 4, microBatch: 2, seed: 3)

    func record(step: Int, hash: UInt64, agreeing: [UInt32], members: [UInt32]) -> CoordinatorInstance.CommitRecord {
        let result = Wire.StepResult(step: UInt64(step), losses: [], weightsHash: Ledger.bytes(of: hash), dataNanos: 0, computeNanos: 0,
                                     reduceNanos: 0, reduceBytes: 0, state: nil)
        return CoordinatorInstance.CommitRecord(
            step: Step(ordinal: step), generation: Generation(1), hash: Ledger.bytes(of: hash), members: members.map { WorkerID($0) },
            results: Dictionary(uniqueKeysWithValues: agreeing.map { (WorkerID($0), result) }), dealtAt: t0, leaseSent: [:])
    }

    @Test func anHonestCommitIsAccepted() {
        var ledger = Ledger(initial: 1, plan: plan)
        let samples = ledger.planned(step: 1)
        let next = Ledger.chain(1, step: 1, samples: samples)
        #expect(ledger.commit(record(step: 1, hash: next, agreeing: [1, 2], members: [1, 2, 3]), applied: samples, onlyCorrupt: false) == nil)
        #expect(ledger.hash(after: 1) == next)
    }

    @Test func everyBrokenCommitIsCaught() {
        var ledger = Ledger(initial: 1, plan: plan)
        let samples = ledger.planned(step: 1)
        let next = Ledger.chain(1, step: 1, samples: samples)
        #expect(ledger.commit(record(step: 2, hash: next, agreeing: [1], members: [1]), applied: samples, onlyCorrupt: false)?
            .contains("not contiguous") == true)
        #expect(ledger.commit(record(step: 1, hash: next, agreeing: [1], members: [1, 2]), applied: samples, onlyCorrupt: false)?
            .contains("no majority") == true)
        #expect(ledger.commit(record(step: 1, hash: next, agreeing: [1], members: [1]), applied: Array(samples.dropLast()), onlyCorrupt: false)?
            .contains("the plan's are") == true)
        #expect(ledger.commit(record(step: 1, hash: next, agreeing: [1], members: [1]), applied: nil, onlyCorrupt: false)?
            .contains("no ring") == true)
        #expect(ledger.commit(record(step: 1, hash: next ^ 1, agreeing: [1], members: [1]), applied: samples, onlyCorrupt: false)?
            .contains("honest chain") == true)
        #expect(ledger.commit(record(step: 1, hash: next ^ 1, agreeing: [1], members: [1]), applied: samples, onlyCorrupt: true) == nil,
                "a corrupt member alone may commit its own weights: nobody can out-vote it")
    }

    @Test func aRollbackRewindsTheLedgerAndItsSamples() {
        var ledger = Ledger(initial: 1, plan: plan)
        var hash: UInt64 = 1
        for step in 1...3 {
            let samples = ledger.planned(step: step)
            hash = Ledger.chain(hash, step: step, samples: samples)
            #expect(ledger.commit(record(step: step, hash: hash, agreeing: [1], members: [1]), applied: samples, onlyCorrupt: false) == nil)
        }
        #expect(ledger.rollback(to: 1) == nil)
        #expect(ledger.committed == 1)
        let samples = ledger.planned(step: 2)
        let again = Ledger.chain(ledger.hash(after: 1)!, step: 2, samples: samples)
        #expect(ledger.commit(record(step: 2, hash: again, agreeing: [1], members: [1]), applied: samples, onlyCorrupt: false) == nil,
                "the redone step's samples are not counted twice")
        #expect(ledger.rollback(to: 5) != nil)
    }
}
