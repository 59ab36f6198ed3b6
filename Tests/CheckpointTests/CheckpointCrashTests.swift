import Foundation
import Testing
@testable import Checkpoint

/// Stops a write after every possible number of file-system operations (as `kill -9` would) and
/// checks that the store always loads a verified checkpoint — the previous one until the commit
/// point, the new one after it — without reporting damage, and that the next write cleans up.
@Suite struct CheckpointCrashTests {
    enum Scenario: String, CaseIterable, Sendable {
        /// Steps 1 and 2 exist (keep 2); writing step 3 commits it and retires step 1.
        case newStep
        /// Steps 1 and 2 exist; step 2 is written again by another run name (a resumed run).
        case sameStep
        /// Steps 1, 2 and 3 exist; the run resumed from step 1 and writes step 2, retiring 3.
        case abandonedTimeline
    }

    struct Setup {
        var existing: [Checkpoint]
        var next: Checkpoint
    }

    func setup(_ scenario: Scenario) -> Setup {
        switch scenario {
        case .newStep:
            return Setup(existing: [1, 2].map { Fixtures.checkpoint(step: $0) }, next: Fixtures.checkpoint(step: 3))
        case .sameStep:
            return Setup(existing: [1, 2].map { Fixtures.checkpoint(step: $0) }, next: Fixtures.checkpoint(step: 2, runName: "again"))
        case .abandonedTimeline:
            return Setup(existing: [1, 2, 3].map { Fixtures.checkpoint(step: $0) }, next: Fixtures.checkpoint(step: 2, runName: "resumed"))
        }
    }

    @Test(arguments: Scenario.allCases)
    func crashAtEveryOperationLeavesAVerifiedCheckpoint(_ scenario: Scenario) throws {
        let setup = setup(scenario)
        let before = setup.existing.last!
        var committed = false
        var crashPoints = 0
        for operations in 0..<500 {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            var store = CheckpointStore(directory: scratch.path, keep: 2)
            for checkpoint in setup.existing { try store.write(checkpoint) }

            let plan = CrashPlan(after: operations)
            store.crashPlan = plan
            do {
                try store.write(setup.next)
            } catch is CrashPlan.Crashed {
            }
            store.crashPlan = nil

            let loaded = try #require(try store.loadNewestVerified(), "crash after \(operations) operations")
            #expect(loaded.damaged.isEmpty, "crash after \(operations) operations: \(loaded.damaged)")
            if loaded.checkpoint == setup.next {
                committed = true
            } else {
                // Before the commit point resume sees the previous newest checkpoint (or, when
                // abandoning a timeline, a checkpoint of the timeline being resumed); once
                // committed, the new one must stay visible at every later crash point.
                #expect(!committed, "crash after \(operations) operations went back to step \(loaded.info.step)")
                #expect(setup.existing.contains(loaded.checkpoint), "crash after \(operations) operations loaded step \(loaded.info.step)")
                if scenario != .abandonedTimeline {
                    #expect(loaded.checkpoint == before, "crash after \(operations) operations loaded step \(loaded.info.step)")
                }
            }

            try store.write(Fixtures.checkpoint(step: 10))
            #expect(!scratch.entries().contains { $0.hasPrefix(".") }, "leftovers after \(operations): \(scratch.entries())")

            if !plan.hasCrashed { break }
            crashPoints += 1
        }
        #expect(committed)
        #expect(crashPoints > 10, "the plan stopped the write at only \(crashPoints) points")
    }
}
