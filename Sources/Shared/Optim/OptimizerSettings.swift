/// The hyperparameters of one optimizer, with the defaults of `cluster.yaml`'s `training` section.
public struct OptimizerSettings: Sendable, Equatable {
    public var kind: OptimizerKind = .adam
    public var schedule: LearningRateSchedule = .constant(0.01)
    /// Velocity decay of `momentum`; beta1 (first-moment decay) of `adam`. Ignored by `sgd`.
    public var momentum = 0.9
    /// Second-moment decay of `adam`.
    public var beta2 = 0.999
    /// Added to `adam`'s denominator so that a parameter with no gradient history is not divided
    /// by zero.
    public var epsilon = 1e-8
    /// L2 coefficient added to the gradient (`sgd`, `momentum`), or decoupled decay (`adam`).
    public var weightDecay = 0.0

    public init() {}

    public init(kind: OptimizerKind, schedule: LearningRateSchedule, momentum: Double = 0.9,
                beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.kind = kind
        self.schedule = schedule
        self.momentum = momentum
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public func validate() throws(OptimError) {
        try schedule.validate()
        func invalid(_ subject: String, _ expected: String, _ found: Double) -> OptimError {
            OptimError(.invalidSetting, subject: subject, expected: expected, found: "\(found)")
        }
        guard momentum >= 0, momentum < 1 else { throw invalid("momentum", "a number in [0, 1)", momentum) }
        guard beta2 >= 0, beta2 < 1 else { throw invalid("beta2", "a number in [0, 1)", beta2) }
        guard epsilon.isFinite, epsilon > 0 else { throw invalid("epsilon", "a finite number > 0", epsilon) }
        guard weightDecay.isFinite, weightDecay >= 0 else {
            throw invalid("weight decay", "a finite number >= 0", weightDecay)
        }
    }
}
