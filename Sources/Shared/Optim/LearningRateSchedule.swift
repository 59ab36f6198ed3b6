import Core

/// The learning rate as a function of the committed step: constant, or cosine decay, each after an
/// optional linear warmup.
///
/// It is keyed to the step counter that only moves at a commit, never to wall time or to how many
/// updates a replica happens to have seen, so a resumed run or a late-joining worker computes the
/// same rate for the same step. Arithmetic is portable (`PortableMath`), so every machine gets the
/// same bits.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Shape: String, Sendable, CaseIterable {
        case constant
        case cosine
    }

    public var shape: Shape
    /// The rate after warmup (constant), or at the top of the cosine.
    public var peak: Double
    /// The first `warmupSteps` steps ramp linearly: step `s` uses peak * s.ordinal / warmupSteps,
    /// so the first update is not wasted at rate 0 and the last warmup step already uses `peak`.
    public var warmupSteps: Int
    /// The planned length of the run; the cosine reaches `minimum` at its last step (the one whose
    /// ordinal is `totalSteps`) and stays there. Ignored by `constant`.
    public var totalSteps: Int
    /// Where the cosine ends. Ignored by `constant`.
    public var minimum: Double

    public init(shape: Shape, peak: Double, warmupSteps: Int = 0, totalSteps: Int = 1, minimum: Double = 0) {
        self.shape = shape
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minimum = minimum
    }

    public static func constant(_ rate: Double, warmupSteps: Int = 0) -> LearningRateSchedule {
        LearningRateSchedule(shape: .constant, peak: rate, warmupSteps: warmupSteps)
    }

    /// Cosine decay from `peak` (after warmup) to `minimum` at the last step of a `totalSteps` run.
    /// With a sample budget, `totalSteps` is the number of steps the budget allows.
    public static func cosine(peak: Double, minimum: Double = 0, warmupSteps: Int = 0, totalSteps: Int) -> LearningRateSchedule {
        LearningRateSchedule(shape: .cosine, peak: peak, warmupSteps: warmupSteps, totalSteps: totalSteps, minimum: minimum)
    }

    /// The rate for the update of `step`; it depends on the steps committed before it
    /// (`step.index`).
    public func learningRate(at step: Step) -> Double {
        if step.ordinal <= warmupSteps {
            return peak * Double(step.ordinal) / Double(warmupSteps)
        }
        switch shape {
        case .constant:
            return peak
        case .cosine:
            let span = max(1, totalSteps - 1 - warmupSteps)
            let progress = min(1, Double(step.index - warmupSteps) / Double(span))
            return minimum + (peak - minimum) * 0.5 * (1 + PortableMath.cosPi(progress))
        }
    }

    /// Checks the ranges; `OptimizerSettings.validate()` calls it.
    public func validate() throws(OptimError) {
        func invalid(_ subject: String, _ expected: String, _ found: Any) -> OptimError {
            OptimError(.invalidSetting, subject: subject, expected: expected, found: "\(found)")
        }
        guard peak.isFinite, peak > 0 else { throw invalid("learning rate", "a finite number > 0", peak) }
        guard warmupSteps >= 0 else { throw invalid("warmup steps", "an integer >= 0", warmupSteps) }
        if shape == .cosine {
            guard minimum.isFinite, minimum >= 0, minimum <= peak else {
                throw invalid("minimum learning rate", "a number in [0, \(peak)]", minimum)
            }
            guard totalSteps >= 1 else { throw invalid("total steps", "an integer >= 1", totalSteps) }
        }
    }
}
