/// Every wait in Grove has a deadline. Pure state machines take `now` as an argument; shells read
/// the clock and pass it in.
public typealias Instant = ContinuousClock.Instant

extension Duration {
    /// The duration in seconds as a Double, for reports and metrics.
    public var inSeconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
