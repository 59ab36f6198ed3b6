extension RingAllReduce {
    /// One finished part of a `sum`, reported to `observer` as it ends: for a timeline of the
    /// collective and for tests that need to act at an exact point in it.
    public enum Event {
        /// Local work before or after the ring: encoding the input (local sums, exponent fields,
        /// fixed-point conversion) or decoding the result.
        case encode(start: ContinuousClock.Instant, end: ContinuousClock.Instant)
        case decode(start: ContinuousClock.Instant, end: ContinuousClock.Instant)
        /// One ring step: this member sent one chunk (in `framesSent` frames) and received one.
        /// `exponents` is true for the exact mode's exponent agreement, false for the values.
        case transfer(Transfer)
    }

    public struct Transfer {
        public var exponents: Bool
        public var phase: RingPlan.Phase
        /// The ring step within the phase, `0..<worldSize - 1`.
        public var step: Int
        public var framesSent: Int
        public var start: ContinuousClock.Instant
        public var end: ContinuousClock.Instant
    }

    /// Times `body` and reports it as `event` when an observer is set; runs it bare otherwise.
    @inline(__always)
    func observed<T, E: Error>(_ event: (ContinuousClock.Instant, ContinuousClock.Instant) -> Event,
                               _ body: () throws(E) -> T) throws(E) -> T {
        guard let observer else { return try body() }
        let start = ContinuousClock.now
        let result = try body()
        observer(event(start, .now))
        return result
    }
}
