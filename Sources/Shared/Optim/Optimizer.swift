import Core

/// A deterministic optimizer over one flat Float parameter buffer: SGD, SGD with momentum, or
/// Adam(W) with bias correction.
///
/// Every replica of a run holds one and applies the same all-reduced gradient at the same committed
/// step, so the update must give identical bits everywhere. It does, because it is a pure
/// elementwise function of (parameter, gradient, state, step): each element's result depends on
/// nothing else (not its position, not the buffer length, not a thread count), per-step constants
/// are computed once in portable Double arithmetic, and every fused multiply-add is explicit, so
/// the SIMD lanes and the tail compute the same operations.
///
/// The step counter is not stored: callers pass the step being applied, which follows from the
/// committed count the ledger and checkpoints carry, so a restored optimizer cannot drift from
/// the run it resumes.
public struct Optimizer: Sendable {
    public let settings: OptimizerSettings
    public let parameterCount: Int
    /// The velocity of `momentum`, or the first moment (m) of `adam`; empty for `sgd`.
    var first: [Float]
    /// The second moment (v) of `adam`; empty otherwise.
    var second: [Float]

    /// A fresh optimizer with zero state.
    public init(settings: OptimizerSettings, parameterCount: Int) throws(OptimError) {
        try settings.validate()
        guard parameterCount >= 0 else {
            throw OptimError(.invalidSetting, subject: "parameter count", expected: "an integer >= 0",
                             found: "\(parameterCount)")
        }
        self.settings = settings
        self.parameterCount = parameterCount
        let names = settings.kind.stateNames
        first = names.count > 0 ? [Float](repeating: 0, count: parameterCount) : []
        second = names.count > 1 ? [Float](repeating: 0, count: parameterCount) : []
    }

    /// A fresh optimizer with a constant learning rate and the other settings at their defaults.
    public init(kind: OptimizerKind, learningRate: Double, momentum: Double = 0.9, weightDecay: Double = 0,
                parameterCount: Int) throws(OptimError) {
        let settings = OptimizerSettings(kind: kind, schedule: .constant(learningRate), momentum: momentum,
                                         weightDecay: weightDecay)
        try self.init(settings: settings, parameterCount: parameterCount)
    }

    /// The learning rate of the update of `step`.
    public func learningRate(at step: Step) -> Double {
        settings.schedule.learningRate(at: step)
    }

    /// Updates `parameters` in place with one step.
    ///
    /// - Parameters:
    ///   - gradient: The all-reduced gradient, one element per parameter. It is multiplied by
    ///     `gradientScale` first, e.g. 1 / global batch to turn a summed gradient into a mean.
    ///   - parameters: The flat parameter buffer, `parameterCount` elements.
    ///   - step: The step this update makes. It selects the learning rate and Adam's bias
    ///     correction.
    ///   - gradientScale: A factor applied to every gradient element.
    public mutating func apply(gradient: UnsafeBufferPointer<Float>, to parameters: UnsafeMutableBufferPointer<Float>,
                               step: Step, gradientScale: Float = 1) {
        precondition(gradient.count == parameterCount,
                     "gradient has \(gradient.count) elements, optimizer expects \(parameterCount)")
        precondition(parameters.count == parameterCount,
                     "parameters have \(parameters.count) elements, optimizer expects \(parameterCount)")
        guard parameterCount > 0, let g = gradient.baseAddress, let p = parameters.baseAddress else { return }
        let constants = StepConstants(settings: settings, step: step, gradientScale: gradientScale)
        let count = parameterCount
        switch settings.kind {
        case .sgd:
            UpdateKernels.sgd(gradient: g, parameters: p, count: count, constants)
        case .momentum:
            first.withUnsafeMutableBufferPointer { velocity in
                UpdateKernels.momentum(gradient: g, parameters: p, velocity: velocity.baseAddress!, count: count, constants)
            }
        case .adam:
            first.withUnsafeMutableBufferPointer { m in
                second.withUnsafeMutableBufferPointer { v in
                    UpdateKernels.adam(gradient: g, parameters: p, m: m.baseAddress!, v: v.baseAddress!,
                                       count: count, constants)
                }
            }
        }
    }

    /// `apply` for arrays, for tests and small models.
    public mutating func apply(gradient: [Float], to parameters: inout [Float], step: Step, gradientScale: Float = 1) {
        gradient.withUnsafeBufferPointer { g in
            parameters.withUnsafeMutableBufferPointer { p in
                apply(gradient: g, to: p, step: step, gradientScale: gradientScale)
            }
        }
    }
}

/// The scalars of one update, computed once per step in Double and rounded to Float once, so
/// every element and every replica uses the same values.
struct StepConstants {
    var gradientScale: Float
    var rate: Float
    var weightDecay: Float
    var momentum: Float
    var oneMinusBeta1: Float
    var beta2: Float
    var oneMinusBeta2: Float
    /// Adam: rate / (1 - beta1^t).
    var stepSize: Float
    /// Adam: 1 / sqrt(1 - beta2^t), applied to sqrt(v) rather than dividing v.
    var inverseRootCorrection2: Float
    var epsilon: Float
    /// Adam: 1 - rate * weightDecay, the decoupled decay factor.
    var keep: Float

    init(settings: OptimizerSettings, step: Step, gradientScale: Float) {
        let rate = settings.schedule.learningRate(at: step)
        // Adam's t counts the updates including this one: 1 for the first step.
        let t = step.ordinal
        let correction1 = 1 - PortableMath.power(settings.momentum, t)
        let correction2 = 1 - PortableMath.power(settings.beta2, t)
        self.gradientScale = gradientScale
        self.rate = Float(rate)
        weightDecay = Float(settings.weightDecay)
        momentum = Float(settings.momentum)
        oneMinusBeta1 = Float(1 - settings.momentum)
        beta2 = Float(settings.beta2)
        oneMinusBeta2 = Float(1 - settings.beta2)
        stepSize = Float(rate / correction1)
        inverseRootCorrection2 = Float(1 / correction2.squareRoot())
        epsilon = Float(settings.epsilon)
        keep = Float(1 - rate * settings.weightDecay)
    }
}
