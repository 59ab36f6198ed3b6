/// Work that was done and then thrown away, one line of `redone.jsonl` per occurrence: a step
/// dealt and abandoned because its ring changed under it, or a committed step that a resumed
/// coordinator runs again because it came after the checkpoint it resumed from.
///
/// The coordinator appends these as they happen (the file survives a coordinator restart, like
/// `metrics.jsonl`); `RunReport` reads them back to show goodput: committed against redone work,
/// by cause.
public struct RedoneWork: Codable, Sendable, Equatable {
    public enum Cause: String, Codable, CaseIterable, Sendable {
        /// A member was declared down (killed, crashed, stopped, cut off).
        case failure
        /// A member left after a preemption notice (SIGTERM or a cloud notice).
        case drain
        /// A member left for another reason (shut down, or failed and said so).
        case leave
        /// The coordinator died; its successor resumed from an older checkpoint.
        case coordinatorRestart = "coordinator-restart"
        /// A member stayed silent on its lease past the step's deadline and was ejected.
        case stall
        /// A ring link between two members failed; the member at fault was ejected.
        case linkFault = "link-fault"
        /// A member's weights disagreed with the majority's; it was ejected.
        case disagreement
        /// A member failed on its own (an invalid lease, a replica out of step) and was ejected.
        case memberFault = "member-fault"
        /// No live replica held the committed state: the run went back to the coordinator's copy.
        case rollback
        /// The coordinator was told to stop while the step was in flight.
        case stop
    }

    public var step: Int
    public var cause: Cause
    /// The generation the abandoned attempt ran in.
    public var generation: UInt64
    /// Micro-batches and samples of the attempt (all of the step's: a step is dealt again whole).
    public var microBatches: Int
    public var samples: Int
    /// Seconds the attempt ran at the coordinator before it was abandoned (for a restart, the
    /// step's committed duration), and the workers it was dealt to.
    public var wallSeconds: Double
    public var workers: Int

    public init(step: Int, cause: Cause, generation: UInt64, microBatches: Int, samples: Int, wallSeconds: Double, workers: Int) {
        (self.step, self.cause, self.generation) = (step, cause, generation)
        (self.microBatches, self.samples, self.wallSeconds, self.workers) = (microBatches, samples, wallSeconds, workers)
    }

    /// Worker-seconds the attempt occupied.
    public var workerSeconds: Double { wallSeconds * Double(workers) }
}
