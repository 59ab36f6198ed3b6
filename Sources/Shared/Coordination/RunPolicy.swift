import Core

/// What the run does when, each decided in one place: checkpoint and evaluation cadence, the
/// quorum to start and to go on, and each step's deadline.
public struct RunPolicy: Sendable, Equatable {
    /// Steps the run trains in all (from `training.steps`, cut short by `training.samples`).
    public var totalSteps: Int
    /// A checkpoint every this many steps (0: only at the end).
    public var checkpointInterval: Int
    /// A held-out evaluation every this many steps (0: only at the end); none without held-out samples.
    public var evaluationInterval: Int
    public var hasValidation: Bool
    /// Training goes on while at least this many members are in the ring.
    public var workersMin: Int
    /// The first step waits for this many (the local workers too, so that the first steps are
    /// not run by whoever joined first), or for `workersMin` once `waitForWorkers` has passed.
    public var startQuorum: Int
    public var waitForWorkers: Duration
    /// A ring member's wait for its neighbour before its collective fails.
    public var collectiveTimeout: Duration
    /// Silence that declares a member down.
    public var heartbeatTimeout: Duration
    /// The longest any step may take, the first ones included (they also move the state).
    public var stepTimeout: Duration
    /// A step's deadline is this many times the median of recent steps, within the bounds above.
    public var stepTimeFactor: Double = 10
    /// How long a coordinator told to stop waits for the step in flight and the last state.
    public var drainTimeout: Duration

    public init(totalSteps: Int, checkpointInterval: Int, evaluationInterval: Int, hasValidation: Bool, workersMin: Int,
                startQuorum: Int, waitForWorkers: Duration, collectiveTimeout: Duration, heartbeatTimeout: Duration,
                stepTimeout: Duration, drainTimeout: Duration) {
        self.totalSteps = totalSteps
        self.checkpointInterval = checkpointInterval
        self.evaluationInterval = evaluationInterval
        self.hasValidation = hasValidation
        self.workersMin = workersMin
        self.startQuorum = startQuorum
        self.waitForWorkers = waitForWorkers
        self.collectiveTimeout = collectiveTimeout
        self.heartbeatTimeout = heartbeatTimeout
        self.stepTimeout = stepTimeout
        self.drainTimeout = drainTimeout
    }

    public func checkpointDue(_ step: Int) -> Bool {
        step == totalSteps || (checkpointInterval > 0 && step % checkpointInterval == 0)
    }

    public func evaluationDue(_ step: Int) -> Bool {
        hasValidation && (step == totalSteps || (evaluationInterval > 0 && step % evaluationInterval == 0))
    }

    /// The shortest deadline a step gets: long enough for a member whose neighbour stalls to time
    /// out on its own and say so (its report names the culprit) before the coordinator decides.
    public var stepDeadlineFloor: Duration { collectiveTimeout + heartbeatTimeout }

    /// The deadline budget of the next step, given the durations of recent committed steps.
    public func stepBudget(recent: [Duration]) -> Duration {
        guard !recent.isEmpty else { return max(stepTimeout, stepDeadlineFloor) }
        let sorted = recent.sorted()
        let median = sorted[sorted.count / 2]
        let scaled = median * stepTimeFactor
        return min(max(scaled, stepDeadlineFloor), max(stepTimeout, stepDeadlineFloor))
    }
}
