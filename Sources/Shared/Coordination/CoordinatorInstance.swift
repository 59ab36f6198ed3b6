import Core
import Wire

/// The coordinator's protocol as a pure state machine: admission, membership and failure
/// detection, the step ledger (leases, results, agreement, re-deals) and run policy (quorum,
/// deadlines, checkpoints, evaluations, stopping). Messages and ticks go in with the current time;
/// directives come out. It never reads a clock, logs or touches a socket: `CoordinatorRuntime`
/// carries out its directives, and the simulation tests run many of them on a manual clock.
///
/// It holds no tensors. The shell holds the training state and says which step it belongs to
/// (`onStateStored`), so the instance knows when a checkpoint can be written or a joiner admitted.
public struct CoordinatorInstance: Sendable {
    public struct Settings: Sendable {
        /// The effective configuration every worker builds from (answer to `hello`).
        public var runConfig: Wire.RunConfig
        public var members: MemberTable.Settings
        public var admission: Admission.Settings
        public var policy: RunPolicy
        public var plan: StepPlan
        public init(runConfig: Wire.RunConfig, members: MemberTable.Settings, admission: Admission.Settings, policy: RunPolicy,
                    plan: StepPlan) {
            self.runConfig = runConfig
            self.members = members
            self.admission = admission
            self.policy = policy
            self.plan = plan
        }
    }

    public enum Directive: Sendable {
        case send(Wire.Message, to: [UInt8])
        /// To every live member.
        case broadcast(Wire.Message)
        /// Joiners at these connections fetch the state after `step` committed steps (its weights
        /// hash to `hash`; nil before the first commit, when only the shell's state exists) from
        /// the first of `sources` that serves it: ring members' state servers, and worker 0 for
        /// the shell's own (listed only while the shell holds that state). The shell grants each
        /// source a token and sends the joiners a `stateSource`; the state never crosses the
        /// control channel.
        case sendState(to: [[UInt8]], step: Int, hash: [UInt8]?, sources: [Wire.Member])
        /// Commit: broadcast `commit` with the attempt's generation (`record.generation`) in the
        /// envelope — a replica commits only the attempt it ran, and ejecting a dissenter may
        /// already have started a newer generation — and record the step. The shell then
        /// verifies and stores any state that came with it (`verifyState`).
        case commit(CommitRecord)
        /// Fetch the state after `step` from a member's state server (the first of `sources` that
        /// serves it), off the event loop; check its weights against `hash`, keep it, and call
        /// `onStateStored` — or `onStateRejected` (it does not match) or `onStateFetchFailed` (no
        /// source served it).
        case fetchState(step: Int, hash: [UInt8], sources: [Wire.Member])
        /// Write a checkpoint of the held state (after `step` committed steps).
        case checkpoint(step: Int)
        /// Evaluate the held state (after `step`) on the held-out samples, off the event loop.
        case evaluate(step: Int)
        /// No live replica holds the committed state: the ledger goes back to the state the shell
        /// holds, and the steps after it are redone.
        case rollback(from: Int, to: Int)
        case event(Event)
        /// The run ends: tell the members (`leave` with `reason`), write the summary and exit.
        case finish(StopReason)
    }

    /// Why the run stops.
    public enum StopReason: Equatable, Sendable {
        case completed
        /// An operator or scheduler asked (SIGTERM, SIGINT).
        case requested(String)
        /// A step's loss was not finite; the run stops after a checkpoint of the last good commit.
        case nonFinite(step: Step, detail: String)
        /// Fewer than `workers.min` members for longer than `wait_for_workers`.
        case noWorkers(String)
        /// Two members found the same sample unreadable (`dataset.on_corrupt: fail`).
        case dataFault(String)

        /// The error code of a stop that is a failure; nil for a completed or requested stop.
        public var failureCode: String? {
            switch self {
            case .completed, .requested: nil
            case .nonFinite: "training.non-finite"
            case .noWorkers: "run.no-workers"
            case .dataFault: "dataset.corrupt"
            }
        }
    }

    /// Things a person may want to read in the log or on the timeline.
    public enum Event: Sendable, Equatable {
        case joined(WorkerID, host: String, pid: UInt32, rejoinOf: WorkerID?, waitsUntil: ContinuousClock.Instant?)
        case refused(host: String, reason: String)
        case down(WorkerID, reason: String)
        case left(WorkerID, reason: Wire.Leave.Reason, text: String)
        case ejected(WorkerID, reason: String)
        case generation(Generation, ring: [WorkerID])
        case abandoned(AbandonedAttempt)
        case toldDown(WorkerID)
        case paused(ready: Int, needed: Int, waitSeconds: Double)
        case stateRequested(step: Int, from: WorkerID)
        case stateRejected(WorkerID, reason: String)
        case stateFetchFailed(WorkerID, step: Int, reason: String)
        case stopping(String)
    }

    /// A dealt attempt that was given up; its work is dealt again.
    public struct AbandonedAttempt: Sendable, Equatable {
        public var step: Step
        public var generation: Generation
        public var cause: RedoCause
        public var dealtAt: ContinuousClock.Instant
        public var members: Int
    }

    /// What the shell records for a committed step.
    public struct CommitRecord: Sendable {
        public var step: Step
        public var generation: Generation
        public var hash: [UInt8]
        public var members: [WorkerID]
        public var results: [WorkerID: Wire.StepResult]
        public var dealtAt: ContinuousClock.Instant
        public var leaseSent: [WorkerID: ContinuousClock.Instant]
    }

    /// Counters for the summary and the status page.
    public struct Counters: Sendable, Equatable {
        public var staleMessages = 0
        public var staleResults = 0
        public var drains = 0
        public var failures = 0
        public var ejections = 0
        public var rejoins = 0
        public var redealtSteps = 0
        public var workersMax = 0
        public var refusedJoins = 0
        public var droppedJoins = 0
        public var rollbacks = 0
    }

    public let settings: Settings
    public internal(set) var table: MemberTable
    public internal(set) var admission: Admission
    public internal(set) var counters = Counters()
    /// Steps committed so far.
    public internal(set) var committed: Int
    /// The step of the state the shell holds.
    public internal(set) var heldStateStep: Int
    /// The weights hash of the last commit (nil before the first commit of this coordinator).
    public internal(set) var committedHash: [UInt8]?
    public internal(set) var attempt: StepAttempt?
    public internal(set) var stopReason: StopReason?
    var plan: StepPlan
    var leaseSent: [WorkerID: ContinuousClock.Instant] = [:]
    var lastCheckpointed: Int
    var lastEvaluated: Int
    var startedTraining = false
    var waitingSince: ContinuousClock.Instant?
    var lastHeartbeat: ContinuousClock.Instant?
    var recentStepDurations: [Duration] = []
    var toldDown: [[UInt8]: ContinuousClock.Instant] = [:]
    /// A state asked of a member, for the stop or a rollback-free admission: who, which step, until when.
    var stateRequest: (from: WorkerID, step: Int, until: ContinuousClock.Instant)?
    /// The member the last state request went to: the next goes to another first.
    var lastAsked: WorkerID?
    var stopDeadline: ContinuousClock.Instant?
    var finished = false
    /// Members that reported each unreadable sample (by the report's text): one member's word
    /// ejects that member; a second member's confirms the data is at fault and stops the run.
    var dataFaults: [String: Set<WorkerID>] = [:]

    /// - Parameter committed: steps already committed (a resume), whose state the shell holds.
    public init(settings: Settings, committed: Int = 0) {
        self.settings = settings
        table = MemberTable(settings: settings.members)
        admission = Admission(settings: settings.admission)
        plan = settings.plan
        self.committed = committed
        heldStateStep = committed
        lastCheckpointed = committed
        lastEvaluated = committed
    }

    public var policy: RunPolicy { settings.policy }
    public var generation: Generation { table.generation }
    public var isFinished: Bool { finished }

    // MARK: Time

    /// Heartbeats, silence, deadlines, quorum, and the next step.
    public mutating func onTick(now: ContinuousClock.Instant) -> [Directive] {
        guard !finished else { return [] }
        var out: [Directive] = []
        if lastHeartbeat.map({ $0.duration(to: now) >= settings.members.heartbeatInterval }) ?? true {
            lastHeartbeat = now
            out.append(.broadcast(.heartbeat(Wire.Heartbeat(committedStep: UInt64(committed)))))
        }
        for (id, silence) in table.silent(now: now) {
            counters.failures += 1
            out.append(.event(.down(id, reason: "no heartbeat for \(String(format: "%.1f", silence.inSeconds)) s")))
            out += removeMember(id, reason: "declared down", cause: .failure, now: now)
        }
        if let attempt {
            out += decide(attempt.verdict(now: now), now: now)
        }
        if stopReason != nil { return out + advanceStop(now: now) }
        if attempt == nil { out += nextStep(now: now) }
        return out
    }

    /// The operator asked the run to stop: the step in flight may finish within the drain budget,
    /// then the last commit is checkpointed and the run ends.
    public mutating func onStopRequested(_ why: String, now: ContinuousClock.Instant) -> [Directive] {
        guard stopReason == nil, !finished else { return [] }
        return beginStop(.requested(why), now: now)
    }

    // MARK: State held by the shell

    /// The shell now holds the state after `step` committed steps (verified).
    public mutating func onStateStored(step: Int, now: ContinuousClock.Instant) -> [Directive] {
        if stateRequest?.step == step { stateRequest = nil }
        guard step >= heldStateStep else { return [] }
        heldStateStep = step
        var out: [Directive] = []
        // A streamed state may arrive after later steps committed: it is still the state of its
        // step, verified against that step's hash, and is checkpointed and evaluated as such.
        if policy.evaluationDue(step) && step > lastEvaluated {
            lastEvaluated = step
            out.append(.evaluate(step: step))
        }
        if policy.checkpointDue(step) && step > lastCheckpointed {
            lastCheckpointed = step
            out.append(.checkpoint(step: step))
        }
        return out + (stopReason != nil ? advanceStop(now: now) : [])
    }

    /// No source served the state after `step` (gone, refused, a transfer that broke or did not
    /// verify): the next stage of the stop, or the next due checkpoint, asks again.
    public mutating func onStateFetchFailed(from id: WorkerID, step: Int, reason: String, now: ContinuousClock.Instant) -> [Directive] {
        if stateRequest?.from == id && stateRequest?.step == step { stateRequest = nil }
        return [.event(.stateFetchFailed(id, step: step, reason: reason))] + (stopReason != nil ? advanceStop(now: now) : [])
    }

    /// A state a member sent did not match the committed weights: that member is ejected.
    public mutating func onStateRejected(from id: WorkerID, reason: String, now: ContinuousClock.Instant) -> [Directive] {
        if stateRequest?.from == id { stateRequest = nil }
        return [.event(.stateRejected(id, reason: reason))] + eject(id, reason: "sent a state that does not match: \(reason)",
                                                                     cause: .disagreement, now: now)
    }
}
