import Coordination
import Core
import Foundation
import Testing
@testable import Training

/// The coordinator's ring keys: one per attempt, shared by its members, never reused.
@Suite struct AttemptRingKeysTests {
    static func attempt(step: Int, generation: UInt64, dealtAt: ContinuousClock.Instant) -> StepAttempt {
        StepAttempt(step: Step(ordinal: step), generation: Generation(generation), members: [WorkerID(1), WorkerID(2)],
                    dealtAt: dealtAt, deadline: dealtAt + .seconds(30), wantState: false)
    }

    @Test func everyMemberOfAnAttemptGetsOneKeyAndEveryOtherAttemptAnother() {
        var counter: UInt8 = 0
        var keys = AttemptRingKeys(makeKey: {
            counter += 1
            return [UInt8](repeating: counter, count: 32)
        })
        let start = ContinuousClock.now
        let first = Self.attempt(step: 4, generation: 2, dealtAt: start)
        let one = keys.key(for: first, step: 4)
        #expect(keys.key(for: first, step: 4) == one, "the second member of the attempt got another key")
        // The same step dealt again in the same generation (abandoned without a new one).
        let again = Self.attempt(step: 4, generation: 2, dealtAt: start + .milliseconds(1))
        let two = keys.key(for: again, step: 4)
        #expect(two != one)
        #expect(keys.key(for: again, step: 4) == two)
        // The same step in a new generation, and the next step.
        #expect(keys.key(for: Self.attempt(step: 4, generation: 3, dealtAt: start + .milliseconds(1)), step: 4) != two)
        #expect(Set([one, two, keys.key(for: Self.attempt(step: 5, generation: 3, dealtAt: start + .seconds(1)), step: 5)]).count == 3)
        // A lease of no attempt in flight, or of another step than the attempt's: a key of its own.
        let before = counter
        _ = keys.key(for: nil, step: 4)
        _ = keys.key(for: again, step: 9)
        #expect(counter == before + 2)
    }

    @Test func realKeysAreThirtyTwoRandomBytes() {
        var keys = AttemptRingKeys()
        let a = keys.key(for: nil, step: 1), b = keys.key(for: nil, step: 1)
        #expect(a.count == 32 && b.count == 32 && a != b)
    }
}
