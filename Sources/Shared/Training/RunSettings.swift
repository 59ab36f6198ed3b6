import Collective
import Config
import Coordination
import Core
import Optim

/// The run's configuration read once: strings become enums, seconds become durations, and the
/// number of steps the run really trains (a sample budget may cut `training.steps` short) is
/// computed in one place, where the learning-rate schedule reads it too.
public struct RunSettings: Sendable {
    public var totalSteps: Int
    public var reduceMode: ReduceMode
    public var optimizer: OptimizerKind
    public var heartbeatInterval: Duration
    public var missedHeartbeats: Int
    public var collectiveTimeout: Duration
    public var stepTimeout: Duration
    public var waitForWorkers: Duration
    public var drainTimeout: Duration

    public init(_ config: ClusterConfig) throws(TrainingError) {
        let t = config.training
        var steps = t.steps
        if t.samples > 0 {
            // Rounded up without overflow: a budget of Int.max samples is simply "no cut".
            let (quotient, remainder) = t.samples.quotientAndRemainder(dividingBy: t.globalBatch)
            steps = min(steps, quotient + (remainder > 0 ? 1 : 0))
        }
        totalSteps = steps
        guard let mode = ReduceMode(rawValue: config.reduce.mode) else {
            throw TrainingError(code: "reduce.mode", "reduce.mode '\(config.reduce.mode)' is not one of exact, fp32, fp16")
        }
        reduceMode = mode
        guard let kind = OptimizerKind(rawValue: t.optimizer) else {
            throw TrainingError(code: "training.optimizer", "training.optimizer '\(t.optimizer)' is not sgd, momentum or adam")
        }
        optimizer = kind
        let f = config.faultTolerance
        heartbeatInterval = try Self.seconds(f.heartbeatInterval, "fault_tolerance.heartbeat_interval")
        missedHeartbeats = f.missedHeartbeats
        collectiveTimeout = try Self.seconds(f.collectiveTimeout, "fault_tolerance.collective_timeout")
        stepTimeout = try Self.seconds(f.stepTimeout, "fault_tolerance.step_timeout")
        waitForWorkers = try Self.seconds(f.waitForWorkers, "fault_tolerance.wait_for_workers")
        drainTimeout = try Self.seconds(f.drainTimeout, "fault_tolerance.drain_timeout")
    }

    /// Seconds as a duration, refused where a duration cannot hold them (the configuration's
    /// ranges should have caught it first; this keeps a conversion from trapping regardless).
    static func seconds(_ value: Double, _ key: String) throws(TrainingError) -> Duration {
        guard value.isFinite, value > 0, value <= 1e9 else {
            throw TrainingError(code: "config.range", "\(key) is \(value) seconds; it must be more than 0 and at most 1e9")
        }
        return .milliseconds(Int64((value * 1000).rounded(.up)))
    }

    /// The coordinator's run policy for this configuration.
    func policy(config: ClusterConfig, hasValidation: Bool) -> RunPolicy {
        RunPolicy(totalSteps: totalSteps, checkpointInterval: config.checkpoint.interval,
                  evaluationInterval: config.training.evalEvery, hasValidation: hasValidation, workersMin: config.workers.min,
                  startQuorum: max(config.workers.min, min(config.workers.local, config.workers.max)),
                  waitForWorkers: waitForWorkers, collectiveTimeout: collectiveTimeout,
                  heartbeatTimeout: heartbeatInterval * missedHeartbeats, stepTimeout: stepTimeout, drainTimeout: drainTimeout)
    }
}
