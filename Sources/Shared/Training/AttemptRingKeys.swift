import Coordination
import Core
import Transport

/// The ring key of each attempt at a step, as the coordinator hands them out in `ringKeys`: one
/// key for every member of one attempt, and a fresh one for the next attempt, even at the same
/// step in the same generation (a step abandoned without a new generation is dealt again so).
/// No two collectives then seal under one key, and no frame of an abandoned attempt opens in the
/// next one.
struct AttemptRingKeys {
    private struct Attempt: Equatable {
        let step: Step
        let generation: Generation
        let dealtAt: ContinuousClock.Instant
    }

    private var current: (attempt: Attempt, key: [UInt8])?
    private let makeKey: () -> [UInt8]

    init(makeKey: @escaping () -> [UInt8] = SealedRingLink.newKey) { self.makeKey = makeKey }

    /// The key for a lease of `step` dealt in `attempt` (the coordinator's attempt in flight);
    /// a key of its own, never kept, when the lease belongs to no attempt.
    mutating func key(for attempt: StepAttempt?, step: UInt64) -> [UInt8] {
        guard let attempt, attempt.step.wire == step else { return makeKey() }
        let identity = Attempt(step: attempt.step, generation: attempt.generation, dealtAt: attempt.dealtAt)
        if let current, current.attempt == identity { return current.key }
        let key = makeKey()
        current = (identity, key)
        return key
    }
}
