/// The loss scale of the `fp16` mode, adjusted after every step.
///
/// Gradients are computed in float32; only the ring's wire is float16. The scale lifts small
/// gradient values above float16's subnormal floor (2^-24) before they are narrowed, and the sum is
/// divided by it afterwards. Too large a scale pushes partial sums past 65504: the all-reduce then
/// reports `.overflow` on every member, the step is skipped, and the scale backs off. After
/// `growthInterval` steps in a row without overflow the scale grows again. Codable, so a
/// checkpoint can carry it and a resumed run takes the same path.
public struct DynamicLossScale: Sendable, Equatable, Codable {
    /// The factor gradients are multiplied by on the wire.
    public private(set) var scale: Float
    /// Steps without overflow since the scale last changed.
    public private(set) var cleanSteps: Int
    public let growthInterval: Int
    public let growthFactor: Float
    public let backoffFactor: Float
    public let minimumScale: Float
    public let maximumScale: Float

    /// - Parameters:
    ///   - initialScale: the starting scale. Default 2^12: fp32 gradients only need lifting for
    ///     the wire, and it leaves room for sums up to 16 before float16 overflows.
    ///   - growthInterval: clean steps before the scale grows, at least 1.
    ///   - growthFactor: more than 1. `backoffFactor`: in (0, 1). Powers of two keep the scaling
    ///     itself exact.
    ///   - minimumScale, maximumScale: the scale never leaves this range.
    public init(
        initialScale: Float = 4096, growthInterval: Int = 1000, growthFactor: Float = 2,
        backoffFactor: Float = 0.5, minimumScale: Float = 1, maximumScale: Float = 65536
    ) {
        precondition(growthInterval >= 1, "growthInterval \(growthInterval) must be at least 1")
        precondition(growthFactor > 1, "growthFactor \(growthFactor) must exceed 1")
        precondition(backoffFactor > 0 && backoffFactor < 1, "backoffFactor \(backoffFactor) must be in (0, 1)")
        precondition(minimumScale > 0 && minimumScale <= maximumScale && maximumScale.isFinite,
                     "scale range \(minimumScale)...\(maximumScale) is not a finite positive range")
        self.scale = min(max(initialScale, minimumScale), maximumScale)
        self.cleanSteps = 0
        self.growthInterval = growthInterval
        self.growthFactor = growthFactor
        self.backoffFactor = backoffFactor
        self.minimumScale = minimumScale
        self.maximumScale = maximumScale
    }

    /// The state `values` (see `values`) saved from a scale with the default settings, or nil if
    /// they are not two numbers, the scale is not a positive finite number within the range, or
    /// the count is not a whole number below the growth interval.
    public init?(restoring values: [Float]) {
        self.init()
        guard values.count == 2, values[0].isFinite, (minimumScale...maximumScale).contains(values[0]),
              values[1] >= 0, values[1] == values[1].rounded(), Int(values[1]) < growthInterval else { return nil }
        scale = values[0]
        cleanSteps = Int(values[1])
    }

    /// The state as two floats, `[scale, cleanSteps]` (exact: the count stays below 2^24), for a
    /// checkpoint or a state transfer.
    public var values: [Float] { [scale, Float(cleanSteps)] }

    /// Records one step's outcome and returns whether its update should be applied (false after
    /// an overflow).
    @discardableResult
    public mutating func record(overflow: Bool) -> Bool {
        if overflow {
            scale = max(scale * backoffFactor, minimumScale)
            cleanSteps = 0
            return false
        }
        cleanSteps += 1
        if cleanSteps >= growthInterval {
            scale = min(scale * growthFactor, maximumScale)
            cleanSteps = 0
        }
        return true
    }

    /// Records `outcome` (see `record(overflow:)`).
    @discardableResult
    public mutating func record(_ outcome: ReduceOutcome) -> Bool {
        record(overflow: outcome == .overflow)
    }
}
