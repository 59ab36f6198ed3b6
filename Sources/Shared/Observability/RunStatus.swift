/// A snapshot of a run for people and scrapers: the body of `GET /status` (JSON, snake_case
/// keys) and the source of `GET /metrics`.
///
/// A plain value: the coordinator fills it from each committed step (`StatusBoard` holds the
/// current one). Numbers that do not exist yet (no step committed, no ETA) are nil, which JSON
/// shows as null; non-finite values are stored as nil too, since JSON cannot spell NaN.
public struct RunStatus: Codable, Sendable, Equatable {
    public enum Phase: String, Codable, Sendable {
        /// Waiting for enough workers to start.
        case waiting
        case training
        case finished
        case failed
        /// Told to stop (SIGTERM, SIGINT) before the end: checkpointed, resumable.
        case stopped
    }

    /// One point of the loss curve.
    public struct LossPoint: Codable, Sendable, Equatable {
        public var step: Int
        public var loss: Double
        public init(step: Int, loss: Double) {
            self.step = step
            self.loss = loss
        }
    }

    /// One worker as the coordinator sees it.
    public struct Member: Codable, Sendable, Equatable {
        public var id: String
        public var host: String
        /// `joining`, `up`, `draining` or `down`.
        public var status: String
        /// Seconds since anything was heard from it.
        public var lastHeardSecondsAgo: Double
        public init(id: String, host: String, status: String, lastHeardSecondsAgo: Double) {
            self.id = id
            self.host = host
            self.status = status
            self.lastHeardSecondsAgo = lastHeardSecondsAgo
        }
    }

    public var run: String
    public var phase: Phase = .waiting
    /// The endpoint workers dial to join (`coordinator.advertise`, or what was bound); nil until bound.
    public var coordinator: String?
    /// The last committed step, 0 before the first.
    public var step = 0
    public var totalSteps: Int
    /// Samples applied so far (committed steps times the global batch).
    public var samples = 0
    /// Mean loss of the last committed step.
    public var loss: Double?
    public var learningRate: Double?
    public var samplesPerSecond: Double?
    /// Workers by membership status ("joining", "up", "draining", "down").
    public var workers: [String: Int] = [:]
    /// Every worker of the run with its health, in id order.
    public var members: [Member] = []
    public var generation: UInt64 = 0
    /// Seconds since the coordinator started.
    public var elapsedSeconds = 0.0
    /// Estimated seconds until the last step commits.
    public var etaSeconds: Double?
    /// Messages of an older generation (or malformed) that were dropped.
    public var staleMessages = 0
    /// The step of the newest checkpoint written.
    public var checkpointStep: Int?
    /// How connections are secured: `curve (…)`, `loopback only (no keys)`, or `insecure (…)`.
    public var security: String?
    /// Connections refused: handshakes with keys not authorized (or not of the current ring),
    /// messages of revoked keys, status requests without a valid token.
    public var refusedConnections = 0
    /// The loss curve so far, thinned evenly once it grows long (see `StatusBoard`).
    public var lossHistory: [LossPoint] = []

    public init(run: String, totalSteps: Int) {
        self.run = run
        self.totalSteps = totalSteps
    }

    /// Workers whose status is "up".
    public var workersUp: Int { workers["up"] ?? 0 }
}
