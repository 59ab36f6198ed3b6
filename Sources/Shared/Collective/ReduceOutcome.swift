/// What one all-reduce produced. Every member of the ring gets the same outcome, so the training
/// loop can act on it without further agreement.
public enum ReduceOutcome: Sendable, Equatable {
    /// The element-wise sum of every micro-batch of every member.
    case sum([Float])
    /// Some value was an infinity or a NaN (a micro-batch gradient, an fp16 partial sum beyond
    /// float16's range, or a result beyond float's). The step must be skipped; in `fp16` mode the
    /// loss scale is lowered (`DynamicLossScale`).
    case overflow

    /// The sum, or nil after an overflow.
    public var values: [Float]? {
        if case .sum(let values) = self { return values }
        return nil
    }
}
