/// One committed step as the observability outputs see it: the fields of a `metrics.jsonl` line
/// that they use (the line's other fields are ignored when decoding).
///
/// The coordinator builds one per commit for `RunObserver`; `RunReport` decodes them back from
/// `metrics.jsonl` (snake_case keys). Observability does not import the training module, so
/// this mirrors the part of its `StepMetrics` it needs.
public struct StepRecord: Codable, Sendable, Equatable {
    public var step: Int
    /// Samples applied by the run so far, this step included.
    public var samples: Int
    /// Mean loss over the step's samples; nil if it was not finite.
    public var loss: Double?
    /// Absent from lines written before the field existed.
    public var learningRate: Double?
    public var workers: Int
    public var generation: UInt64
    /// Leases out to commit, at the coordinator.
    public var stepSeconds: Double
    public var samplesPerSecond: Double
    /// The slowest worker's time in each phase.
    public var dataSeconds: Double
    public var computeSeconds: Double
    public var allReduceSeconds: Double
    /// Seconds from the coordinator's start to this commit; restarts at a resume.
    public var wallSeconds: Double
    /// Bytes all workers sent in the step's all-reduce.
    public var allReduceBytes: Double?
    /// The held-out evaluation of this step, when there was one: name (`canopy_iou`, `tree_f1`,
    /// …) to value. Not part of `metrics.jsonl`'s flat fields (there it is `validation`).
    public var evaluationScalars: [String: Double]?

    public init(step: Int, samples: Int, loss: Double?, learningRate: Double? = nil, workers: Int, generation: UInt64,
                stepSeconds: Double, samplesPerSecond: Double, dataSeconds: Double, computeSeconds: Double,
                allReduceSeconds: Double, wallSeconds: Double, allReduceBytes: Double? = nil,
                evaluationScalars: [String: Double]? = nil) {
        (self.step, self.samples, self.loss, self.learningRate) = (step, samples, loss, learningRate)
        (self.workers, self.generation) = (workers, generation)
        (self.stepSeconds, self.samplesPerSecond, self.wallSeconds) = (stepSeconds, samplesPerSecond, wallSeconds)
        (self.dataSeconds, self.computeSeconds, self.allReduceSeconds) = (dataSeconds, computeSeconds, allReduceSeconds)
        (self.allReduceBytes, self.evaluationScalars) = (allReduceBytes, evaluationScalars)
    }
}
