import Core

extension Wire {
    /// Every message of protocol v1.
    public enum Message: Sendable, Equatable {
        case hello(Hello)
        case runConfig(RunConfig)
        case join(Join)
        case welcome(Welcome)
        case reject(Reject)
        case heartbeat(Heartbeat)
        case lease(Lease)
        case state(State)
        case stepResult(StepResult)
        case commit(Commit)
        case leave(Leave)
        case stepFailed(StepFailed)
        case stateRequest(StateRequest)
        case indexRequest(IndexRequest)
        case sampleIndex(SampleIndex)
        case sampleRequest(SampleRequest)
        case sampleData(SampleData)
        case sampleRefused(SampleRefused)
        case stateGrant(StateGrant)
        case stateSource(StateSource)
        case stateFetch(StateFetch)
        case stateChunk(StateChunk)
        case stateRefused(StateRefused)
        case ringKeys(RingKeys)

        public var kind: Kind {
            switch self {
            case .hello: .hello
            case .runConfig: .runConfig
            case .join: .join
            case .welcome: .welcome
            case .reject: .reject
            case .heartbeat: .heartbeat
            case .lease: .lease
            case .state: .state
            case .stepResult: .stepResult
            case .commit: .commit
            case .leave: .leave
            case .stepFailed: .stepFailed
            case .stateRequest: .stateRequest
            case .indexRequest: .indexRequest
            case .sampleIndex: .sampleIndex
            case .sampleRequest: .sampleRequest
            case .sampleData: .sampleData
            case .sampleRefused: .sampleRefused
            case .stateGrant: .stateGrant
            case .stateSource: .stateSource
            case .stateFetch: .stateFetch
            case .stateChunk: .stateChunk
            case .stateRefused: .stateRefused
            case .ringKeys: .ringKeys
            }
        }
    }

    /// Worker → coordinator: first contact; asks for the run's configuration.
    public struct Hello: Sendable, Equatable {
        public var major: UInt8
        public var minor: UInt8
        public init(major: UInt8 = Wire.major, minor: UInt8 = Wire.minor) { self.major = major; self.minor = minor }
    }

    /// Coordinator → worker: the effective configuration (YAML) every replica builds from, and
    /// (minor 4, envelope flag `flagSamples`) where the coordinator serves the run's samples.
    public struct RunConfig: Sendable, Equatable {
        public var runName: String
        public var configYAML: String
        /// Sent only to a worker of minor 4 or later, and only when the coordinator serves samples.
        public var samples: SampleChannel?
        public init(runName: String, configYAML: String, samples: SampleChannel? = nil) {
            self.runName = runName; self.configYAML = configYAML; self.samples = samples
        }
    }

    /// Worker → coordinator: asks to become a member.
    public struct Join: Sendable, Equatable {
        public var major: UInt8
        public var minor: UInt8
        /// `TrainableModel.schemaHash` of the model the worker built from the run's configuration.
        public var schemaHash: UInt64
        /// Where the worker's ring socket listens (`tcp://10.0.0.5:41234`).
        public var ringEndpoint: String
        public var host: String
        public var pid: UInt32
        /// Where the worker's state server listens (minor 5, envelope flag `flagStateEndpoint`);
        /// nil from a worker of an older minor.
        public var stateEndpoint: String?
        public init(major: UInt8 = Wire.major, minor: UInt8 = Wire.minor, schemaHash: UInt64, ringEndpoint: String, host: String, pid: UInt32,
                    stateEndpoint: String? = nil) {
            self.major = major; self.minor = minor; self.schemaHash = schemaHash
            self.ringEndpoint = ringEndpoint; self.host = host; self.pid = pid; self.stateEndpoint = stateEndpoint
        }
    }

    /// Coordinator → worker: admitted, with the id it keeps for the run.
    public struct Welcome: Sendable, Equatable {
        public var worker: WorkerID
        public var heartbeatIntervalMillis: UInt32
        public init(worker: WorkerID, heartbeatIntervalMillis: UInt32) {
            self.worker = worker; self.heartbeatIntervalMillis = heartbeatIntervalMillis
        }
    }

    /// Coordinator → worker: refused; the worker prints the reason and exits — except for
    /// `declaredDown`, after which it joins again as a new incarnation, and `full`, after which it
    /// joins again a heartbeat interval later (places free up as dead members are declared down).
    public struct Reject: Sendable, Equatable {
        public enum Reason: UInt16, Sendable {
            case protocolVersion = 1
            case modelSchema = 2
            case full = 3
            case runEnded = 4
            case malformed = 5
            /// The sender was declared down (it went silent, e.g. stopped or partitioned) and its
            /// membership is over; it may join again with a new hello and join.
            case declaredDown = 6
        }
        public var reason: Reason
        public var text: String
        public init(reason: Reason, text: String) { self.reason = reason; self.text = text }
    }

    /// Worker → coordinator, every heartbeat interval: alive, and at which step.
    public struct Heartbeat: Sendable, Equatable {
        public var committedStep: UInt64
        public init(committedStep: UInt64) { self.committedStep = committedStep }
    }

    /// One ring member of a generation, in ring order.
    public struct Member: Sendable, Equatable {
        public var worker: WorkerID
        public var ringEndpoint: String
        public init(worker: WorkerID, ringEndpoint: String) { self.worker = worker; self.ringEndpoint = ringEndpoint }
    }

    /// One micro-batch: its canonical id and the samples it holds (positions in the run's sample list).
    public struct MicroBatch: Sendable, Equatable {
        public var id: MicroBatchID
        public var samples: [UInt32]
        public init(id: MicroBatchID, samples: [UInt32]) { self.id = id; self.samples = samples }
    }

    /// Coordinator → worker: compute these micro-batches of `step` in the envelope's generation,
    /// sum with the ring, apply the update, and report.
    public struct Lease: Sendable, Equatable {
        public var step: UInt64
        /// The ring of this generation, in order; the worker finds its rank by its id.
        public var ring: [Member]
        public var microBatches: [MicroBatch]
        /// Micro-batches in the whole step, over all members.
        public var totalMicroBatches: UInt32
        /// Samples in the whole step (the gradient is divided by it).
        public var globalBatch: UInt32
        /// When set, the rank-0 worker attaches its state to the step result (for a checkpoint).
        public var wantState: Bool
        public init(step: UInt64, ring: [Member], microBatches: [MicroBatch], totalMicroBatches: UInt32, globalBatch: UInt32, wantState: Bool) {
            self.step = step; self.ring = ring; self.microBatches = microBatches
            self.totalMicroBatches = totalMicroBatches; self.globalBatch = globalBatch; self.wantState = wantState
        }
    }

    /// A named float32 tensor (parameters, optimizer state).
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var values: [Float]
        public init(name: String, values: [Float]) { self.name = name; self.values = values }
    }

    /// The exact training state after `step` committed steps: parameters and optimizer state.
    /// Coordinator → worker before its first lease; worker → coordinator inside a step result.
    public struct State: Sendable, Equatable {
        public var step: UInt64
        public var tensors: [Tensor]
        public init(step: UInt64, tensors: [Tensor]) { self.step = step; self.tensors = tensors }
    }

    /// The loss of one sample, for the curation loop.
    public struct SampleLoss: Sendable, Equatable {
        public var sample: UInt32
        public var loss: Float
        public init(sample: UInt32, loss: Float) { self.sample = sample; self.loss = loss }
    }

    /// Worker → coordinator: the step is summed and applied on this replica.
    public struct StepResult: Sendable, Equatable {
        public var step: UInt64
        public var losses: [SampleLoss]
        /// SHA-256 of the parameters after the update (little-endian float32, layout order).
        public var weightsHash: [UInt8]
        /// Nanoseconds spent waiting for data, computing gradients, and in the all-reduce.
        public var dataNanos: UInt64
        public var computeNanos: UInt64
        public var reduceNanos: UInt64
        public var reduceBytes: UInt64
        /// Present when the lease asked for it.
        public var state: State?
        /// The worker's timeline of the step (protocol 1.1): present only when the run records a
        /// timeline and the coordinator speaks minor 1 or later.
        public var spans: [Span]?
        public init(step: UInt64, losses: [SampleLoss], weightsHash: [UInt8], dataNanos: UInt64, computeNanos: UInt64,
                    reduceNanos: UInt64, reduceBytes: UInt64, state: State?, spans: [Span]? = nil) {
            self.step = step; self.losses = losses; self.weightsHash = weightsHash; self.dataNanos = dataNanos
            self.computeNanos = computeNanos; self.reduceNanos = reduceNanos; self.reduceBytes = reduceBytes; self.state = state
            self.spans = spans
        }
    }

    /// What a worker was doing during one span of a step. Codes are never reused.
    public enum SpanPhase: UInt8, Sendable, CaseIterable {
        /// Waiting for a micro-batch's samples to be read and decoded.
        case dataWait = 1
        case forward = 2
        case backward = 3
        /// The all-reduce's encoding of its input (local sums, exponents, fixed point).
        case encode = 4
        /// One ring step of the exact mode's exponent agreement (a max-reduce, then a gather).
        case exponentReduceScatter = 5
        case exponentAllGather = 6
        /// One ring step of the reduce-scatter of the values.
        case reduceScatter = 7
        /// One ring step of the all-gather of the values.
        case allGather = 8
        /// The all-reduce's decoding of the sum.
        case decode = 9
        case optimizer = 10
        /// Hashing the new weights and assembling the result, up to handing it to the socket.
        case report = 11

        /// The span's name on the timeline.
        public var name: String {
            switch self {
            case .dataWait: "data-wait"
            case .forward: "forward"
            case .backward: "backward"
            case .encode: "encode"
            case .exponentReduceScatter: "exponents reduce-scatter"
            case .exponentAllGather: "exponents all-gather"
            case .reduceScatter: "reduce-scatter"
            case .allGather: "all-gather"
            case .decode: "decode"
            case .optimizer: "optimizer"
            case .report: "report"
            }
        }
    }

    /// One span of a worker's step, timed from the moment the worker received the lease.
    public struct Span: Sendable, Equatable {
        public var phase: SpanPhase
        /// The micro-batch (data-wait, forward, backward) or ring step within its phase
        /// (reduce-scatter, all-gather and their exponent forms) the span belongs to; 0 otherwise.
        public var index: UInt32
        public var startNanos: UInt64
        public var durationNanos: UInt64
        public init(phase: SpanPhase, index: UInt32 = 0, startNanos: UInt64, durationNanos: UInt64) {
            self.phase = phase; self.index = index; self.startNanos = startNanos; self.durationNanos = durationNanos
        }
    }

    /// Coordinator → workers: `step` is committed; replicas may drop their pre-step copy.
    public struct Commit: Sendable, Equatable {
        public var step: UInt64
        public init(step: UInt64) { self.step = step }
    }

    /// Either direction: the sender is leaving (run finished, drain, shutdown).
    public struct Leave: Sendable, Equatable {
        public enum Reason: UInt16, Sendable {
            case runFinished = 1
            case drain = 2
            case shutdown = 3
            case error = 4
        }
        public var reason: Reason
        public var text: String
        public init(reason: Reason, text: String) { self.reason = reason; self.text = text }
    }

    /// Worker → coordinator (minor 3): this worker's attempt at `step` failed before it could
    /// apply an update — its collective broke, timed out, or met a frame of a newer generation.
    /// The coordinator weighs the reports of one attempt together to find the member at fault.
    public struct StepFailed: Sendable, Equatable {
        /// A stable error code (`collective.timeout`, `collective.closed`, `worker.data`, ...).
        public var code: String
        public var step: UInt64
        public var text: String
        /// The member the worker suspects (its ring neighbour whose frames stopped, or whose
        /// socket refused them); 0 when it suspects nobody (its own failure).
        public var suspect: WorkerID
        /// Ring frames received from `suspect` during the attempt: the lower, the nearer the fault.
        public var framesFromSuspect: UInt32
        public init(code: String, step: UInt64, text: String, suspect: WorkerID, framesFromSuspect: UInt32) {
            self.code = code; self.step = step; self.text = text; self.suspect = suspect
            self.framesFromSuspect = framesFromSuspect
        }
    }

    /// Coordinator → worker (minor 3): send the state after committed step `step` (as a `state`
    /// message), for a checkpoint or a joiner when the coordinator's own copy is older.
    public struct StateRequest: Sendable, Equatable {
        public var step: UInt64
        public init(step: UInt64) { self.step = step }
    }

    /// Coordinator → member (minor 5): let your state server serve the state after `step`
    /// committed steps to fetches that carry `token` and the envelope's generation. A grant for
    /// the step this member ran and has not yet seen committed proves that commit, as a
    /// `stateRequest` does.
    public struct StateGrant: Sendable, Equatable {
        public var step: UInt64
        public var token: [UInt8]
        public init(step: UInt64, token: [UInt8]) { self.step = step; self.token = token }
    }

    /// Coordinator → joiner (minor 5): fetch the state after `step` committed steps from one of
    /// `sources` (in order; worker 0 is the coordinator's own state server), with `token` and the
    /// envelope's generation; its parameters must hash to `weightsHash`.
    public struct StateSource: Sendable, Equatable {
        public var step: UInt64
        public var weightsHash: [UInt8]
        public var token: [UInt8]
        /// Each source's worker id and state endpoint.
        public var sources: [Member]
        public init(step: UInt64, weightsHash: [UInt8], token: [UInt8], sources: [Member]) {
            self.step = step; self.weightsHash = weightsHash; self.token = token; self.sources = sources
        }
    }

    /// Fetcher → state server (minor 5): the bytes `offset ..< offset + length` of the state after
    /// `step`, under a grant (`token`, and the envelope's generation).
    public struct StateFetch: Sendable, Equatable {
        public var step: UInt64
        public var token: [UInt8]
        public var offset: UInt64
        public var length: UInt32
        public init(step: UInt64, token: [UInt8], offset: UInt64, length: UInt32) {
            self.step = step; self.token = token; self.offset = offset; self.length = length
        }
    }

    /// State server → fetcher (minor 5): one range of the state's bytes (the body of a `state`
    /// message, docs/wire-protocol.md), with the length and SHA-256 of the whole.
    public struct StateChunk: Sendable, Equatable {
        public var step: UInt64
        public var totalBytes: UInt64
        /// SHA-256 of all `totalBytes` bytes of the state.
        public var stateHash: [UInt8]
        public var offset: UInt64
        public var data: [UInt8]
        public init(step: UInt64, totalBytes: UInt64, stateHash: [UInt8], offset: UInt64, data: [UInt8]) {
            self.step = step; self.totalBytes = totalBytes; self.stateHash = stateHash; self.offset = offset; self.data = data
        }
    }

    /// State server → fetcher (minor 5): the fetch is refused.
    public struct StateRefused: Sendable, Equatable {
        public enum Reason: UInt16, Sendable {
            /// No grant carries this token for the request's generation (a stranger, a stale
            /// generation, an expired grant).
            case notGranted = 1
            /// The server holds a newer state than the one asked for: the step is stale.
            case staleStep = 2
            /// The server does not hold the state yet (its commit has not arrived): ask again.
            case notReady = 3
            /// The range is empty, too long, or outside the state.
            case badRange = 4
        }
        public var reason: Reason
        /// The newest step whose state the server holds.
        public var heldStep: UInt64
        public var text: String
        public init(reason: Reason, heldStep: UInt64, text: String) { self.reason = reason; self.heldStep = heldStep; self.text = text }
    }
}

extension Wire {
    /// Coordinator → worker (minor 6, CurveZMQ runs only): the public key of every member of the
    /// envelope's generation, as each one's control handshake proved it. A member's ring socket
    /// admits exactly these keys, and dials the next member expecting its key, so that nobody
    /// else can push frames into the ring or receive one. Sent before the generation's leases.
    public struct RingKeys: Sendable, Equatable {
        public struct Entry: Sendable, Equatable {
            public var worker: WorkerID
            /// 32 bytes: a CurveZMQ public key.
            public var key: [UInt8]
            public init(worker: WorkerID, key: [UInt8]) { self.worker = worker; self.key = key }
        }
        public var members: [Entry]
        /// Minor 7 (envelope flag `flagRingKey`): 32 fresh random bytes for the lease that follows,
        /// the key its members seal their ring frames under.
        public var ringKey: [UInt8]?
        public init(members: [Entry], ringKey: [UInt8]? = nil) { self.members = members; self.ringKey = ringKey }
    }
}
