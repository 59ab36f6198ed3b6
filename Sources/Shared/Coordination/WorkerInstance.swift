import Core
import Wire

/// A worker's side of the protocol as a pure state machine: which messages it acts on, in which
/// order, and what it refuses. Lease fencing (generation and step), lease validation (every index
/// and count is checked against the run's plan before the shell touches a sample), state and
/// commit handling and the fp16 loss-scale start are decided here; `WorkerRuntime` computes the
/// step and does the I/O.
public struct WorkerInstance: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Samples in the run's training list: every sample index of a lease must be below it.
        public var sampleCount: Int
        public var microBatchesPerStep: Int
        /// Samples per micro-batch.
        public var microBatch: Int
        public var globalBatch: Int
        /// fp16 runs carry a dynamic loss scale with the state.
        public var lossScaled: Bool
        /// The state tensor that carries the loss scale.
        public var lossScaleTensor: String
        public init(sampleCount: Int, microBatchesPerStep: Int, microBatch: Int, globalBatch: Int, lossScaled: Bool,
                    lossScaleTensor: String) {
            self.sampleCount = sampleCount
            self.microBatchesPerStep = microBatchesPerStep
            self.microBatch = microBatch
            self.globalBatch = globalBatch
            self.lossScaled = lossScaled
            self.lossScaleTensor = lossScaleTensor
        }
    }

    /// How the replica's loss scale starts after a state arrives.
    public enum LossScaleStart: Equatable, Sendable {
        /// The state carries one: use it.
        case restored
        /// fp16 without one in the state (the run's first state, or a checkpoint of another mode):
        /// every replica starts from the same default.
        case startDefault
        /// Not an fp16 run: none, even if the state carries one.
        case none
    }

    /// A lease that passed every check.
    public struct StepOrder: Sendable, Equatable {
        public var step: Step
        public var generation: Generation
        public var rank: Int
        public var ring: [Wire.Member]
        public var microBatches: [Wire.MicroBatch]
        public var totalMicroBatches: Int
        public var globalBatch: Int
        /// This worker attaches its state to its result (a coordinator older than minor 5).
        public var attachState: Bool
        /// The coordinator will fetch the state after this step (minor 5): keep serving it after
        /// the next commit, until its grant comes.
        public var retainState: Bool
    }

    public enum Directive: Sendable, Equatable {
        case install(Wire.State, lossScale: LossScaleStart)
        case run(StepOrder)
        case commit(step: Step)
        /// Send the state after `step` committed steps (the pre-update copy if an uncommitted
        /// update was applied since).
        case sendState(step: Int)
        /// Fetch the state `source` names from its servers (in order), with its token and
        /// `generation`; hand it to `onStateFetched` (or `onStateFetchFailed`).
        case fetch(Wire.StateSource, generation: Generation)
        /// Let this worker's state server serve its committed state (after `step`) to fetches that
        /// carry `token` in `generation`.
        case serve(step: Int, token: [UInt8], generation: Generation)
        /// Tell the coordinator this attempt failed here (the lease could not be run).
        case report(Wire.StepFailed)
        /// Dropped, with why (for the log and the counters).
        case drop(String)
        /// This incarnation's membership is over: join again from the start.
        case rejoin(String)
        case exit(Outcome)
    }

    public enum Outcome: Equatable, Sendable {
        /// The coordinator ended the run.
        case finished(String)
        /// The coordinator stopped before the run's end (it was told to stop, or it failed): a
        /// coordinator that resumes the run takes this worker again if it is started again.
        case coordinatorStopped(String)
        /// The run failed in a way a restart would meet again (a loss that is not finite, a sample
        /// that cannot be read): this worker should not be started again for it.
        case runFailed(String)
        case rejected(String)
    }

    public let settings: Settings
    public private(set) var id = WorkerID(0)
    public private(set) var generation = Generation(0)
    /// Steps committed on this replica; nil before the first state.
    public private(set) var committed: Int?
    public private(set) var staleMessages = 0
    /// The generation and step of the last lease accepted: the coordinator deals each attempt in
    /// a generation of its own, so the same pair again is a repeat and must not start the step twice.
    private var accepted: (generation: Generation, step: Step)?

    public init(settings: Settings) { self.settings = settings }

    /// The step this replica ran and whose commit has not come yet: a worker told to leave
    /// waits for it, so that the step costs the others nothing.
    public var awaitingCommit: Step? {
        guard let committed, let ran = accepted?.step, ran == Step(after: committed) else { return nil }
        return ran
    }

    public mutating func onWelcome(_ welcome: Wire.Welcome) { id = welcome.worker }

    public mutating func onMessage(_ message: Wire.Message, envelope: Wire.Envelope) -> [Directive] {
        switch message {
        case .state(let state):
            return install(state)
        case .stateSource(let source):
            if let committed, source.step <= UInt64(committed) {
                staleMessages += 1
                return [.drop("a state source for step \(source.step), not newer than this replica's \(committed)")]
            }
            return [.fetch(source, generation: envelope.generation)]
        case .stateGrant(let grant):
            if let committed, let ran = accepted?.step, grant.step == ran.wire, ran == Step(after: committed) {
                // Granted only for the last commit, which needed this replica's result: the grant
                // proves the commit whose message was lost (as a state request does).
                self.committed = ran.ordinal
                return [.commit(step: ran), .serve(step: ran.ordinal, token: grant.token, generation: envelope.generation)]
            }
            // An earlier step may still be served, if the lease asked to keep it; the server says.
            guard let committed, grant.step <= UInt64(committed) else {
                return [.drop("a grant for the state after step \(grant.step); this replica has \(committed.map(String.init) ?? "none")")]
            }
            return [.serve(step: Int(grant.step), token: grant.token, generation: envelope.generation)]
        case .lease(let lease):
            if envelope.generation < generation {
                staleMessages += 1
                return [.drop("a lease of \(envelope.generation), older than \(generation)")]
            }
            if let accepted, accepted.generation == envelope.generation, accepted.step.wire == lease.step {
                staleMessages += 1
                return [.drop("a repeated lease for step \(lease.step) of \(envelope.generation)")]
            }
            generation = envelope.generation
            let directives = onLease(lease, generation: envelope.generation, minor: envelope.minor)
            if case .run(let order) = directives.first { accepted = (envelope.generation, order.step) }
            return directives
        case .commit(let commit):
            // Only the attempt this replica ran moves its ledger: a commit of any other (a
            // repeat, one meant for an earlier incarnation on this connection, one that overtook
            // this replica's state, another generation's attempt at the same step) would make it
            // claim weights it does not hold. The coordinator sends it in the attempt's generation.
            guard let current = committed, let ran = accepted?.step, commit.step == ran.wire, ran == Step(after: current),
                  let leased = accepted?.generation, envelope.generation == leased else {
                if let committed, commit.step <= UInt64(committed) { return [] }
                staleMessages += 1
                return [.drop("a commit of step \(commit.step); this replica has \(committed.map(String.init) ?? "no state") and ran \(accepted.map { "\($0.step)" } ?? "no step")")]
            }
            committed = ran.ordinal
            return [.commit(step: ran)]
        case .stateRequest(let request):
            if let committed, let ran = accepted?.step, request.step == ran.wire, ran == Step(after: committed) {
                // The coordinator asks only for the state of its last commit, and it could not
                // commit this step without this replica's result: the request proves the commit
                // whose message was lost, so the replica commits and answers instead of staying
                // a step behind (and the coordinator asking it forever).
                self.committed = ran.ordinal
                return [.commit(step: ran), .sendState(step: ran.ordinal)]
            }
            guard let committed, request.step == UInt64(committed) else {
                return [.drop("a request for the state after step \(request.step); this replica has \(committed.map(String.init) ?? "none")")]
            }
            return [.sendState(step: committed)]
        case .leave(let leave):
            switch leave.reason {
            case .shutdown: return [.exit(.coordinatorStopped(leave.text))]
            case .error: return [.exit(.runFailed(leave.text))]
            case .runFinished, .drain: return [.exit(.finished(leave.text))]
            }
        case .reject(let reject):
            if reject.reason == .declaredDown { return [.rejoin(reject.text)] }
            // A full run frees places as silent members are declared down (within the heartbeat
            // timeout): a worker restarted after a crash, refused while its dead predecessor still
            // counts, must try again rather than leave the run short for good. The runtime waits a
            // heartbeat interval first; admission's rate limit bounds the rest.
            if reject.reason == .full { return [.rejoin(reject.text)] }
            return [.exit(.rejected(reject.text))]
        case .heartbeat, .hello, .runConfig, .join, .welcome, .stepResult, .stepFailed, .stateFetch, .stateChunk, .stateRefused,
             .indexRequest, .sampleIndex, .sampleRequest, .sampleData, .sampleRefused,
             .ringKeys:  // taken by the runtime, which owns the ring socket
            return []
        }
    }

    /// The state a `fetch` brought: installed, unless this replica already holds one as new.
    public mutating func onStateFetched(_ state: Wire.State) -> [Directive] { install(state) }

    mutating func install(_ state: Wire.State) -> [Directive] {
        // A state no newer than what this replica holds is a repeat; installing it would discard
        // an update applied since.
        if let committed, state.step <= UInt64(committed) {
            staleMessages += 1
            return [.drop("a state after step \(state.step), not newer than this replica's \(committed)")]
        }
        guard state.step <= UInt64(Int.max) else { return [.drop("a state after step \(state.step)")] }
        committed = Int(state.step)
        // Installing replaces the weights, and with them any update applied but not yet
        // committed: the lease that produced it no longer counts for a commit.
        accepted = nil
        let carries = state.tensors.contains { $0.name == settings.lossScaleTensor }
        let start: LossScaleStart = settings.lossScaled ? (carries ? .restored : .startDefault) : .none
        return [.install(state, lossScale: start)]
    }

    mutating func onLease(_ lease: Wire.Lease, generation: Generation, minor: UInt8 = Wire.minor) -> [Directive] {
        guard lease.step <= UInt64(Int.max) else { return refuse(lease, "step \(lease.step) is out of range") }
        guard let committed else {
            return [.report(failure(lease.step, code: "worker.no-state", "a lease for step \(lease.step) came before the training state"))]
        }
        guard let step = Step(wire: lease.step), step.ordinal > committed else {
            staleMessages += 1
            return [.drop("a lease for step \(lease.step), already committed")]
        }
        guard step == Step(after: committed) else {
            return [.report(failure(step, code: "worker.out-of-sync",
                                    "a lease for step \(step) but this replica has committed only \(committed) steps"))]
        }
        if let problem = problem(with: lease) { return refuse(lease, problem) }
        let rank = lease.ring.firstIndex { $0.worker == id }!
        return [.run(StepOrder(step: step, generation: generation, rank: rank, ring: lease.ring, microBatches: lease.microBatches,
                               totalMicroBatches: Int(lease.totalMicroBatches), globalBatch: Int(lease.globalBatch),
                               attachState: lease.wantState && rank == 0 && minor < Wire.stateMinor,
                               retainState: lease.wantState && minor >= Wire.stateMinor))]
    }

    /// What is wrong with a lease, checked before any of it is used.
    func problem(with lease: Wire.Lease) -> String? {
        let ids = lease.ring.map(\.worker)
        guard ids.filter({ $0 == id }).count == 1 else { return "the ring \(ids) does not hold \(id) exactly once" }
        guard Set(ids).count == ids.count else { return "the ring \(ids) names a member twice" }
        for member in lease.ring {
            do { _ = try Endpoint.parseAdvertised(member.ringEndpoint, origin: "ring endpoint") } catch {
                return "ring endpoint '\(LogText.escape(member.ringEndpoint))' of \(member.worker) \(error.problem)"
            }
        }
        guard lease.totalMicroBatches == UInt32(settings.microBatchesPerStep) else {
            return "\(lease.totalMicroBatches) micro-batches per step, the run's plan has \(settings.microBatchesPerStep)"
        }
        guard lease.globalBatch == UInt32(settings.globalBatch) else {
            return "global batch \(lease.globalBatch), the run's is \(settings.globalBatch)"
        }
        guard !lease.microBatches.isEmpty || lease.ring.count > settings.microBatchesPerStep else {
            return "no micro-batches"
        }
        var seen = Set<MicroBatchID>()
        for batch in lease.microBatches {
            guard batch.id.rawValue < lease.totalMicroBatches, seen.insert(batch.id).inserted else {
                return "micro-batch id \(batch.id.rawValue) is out of range or repeated (\(lease.totalMicroBatches) per step)"
            }
            guard batch.samples.count == settings.microBatch else {
                return "micro-batch \(batch.id.rawValue) holds \(batch.samples.count) samples, the run's micro-batch is \(settings.microBatch)"
            }
            if let bad = batch.samples.first(where: { Int($0) >= settings.sampleCount }) {
                return "sample index \(bad) in micro-batch \(batch.id.rawValue) is out of range (\(settings.sampleCount) samples)"
            }
        }
        return nil
    }

    mutating func refuse(_ lease: Wire.Lease, _ problem: String) -> [Directive] {
        let step = lease.step <= UInt64(Int.max) ? lease.step : 0
        return [.report(failure(step, code: "lease.invalid", "the lease for step \(lease.step) is invalid: \(problem)"))]
    }

    func failure(_ step: Step, code: String, _ text: String) -> Wire.StepFailed {
        failure(step.wire, code: code, text)
    }

    func failure(_ step: UInt64, code: String, _ text: String) -> Wire.StepFailed {
        Wire.StepFailed(code: code, step: step, text: text, suspect: WorkerID(0), framesFromSuspect: 0)
    }
}
