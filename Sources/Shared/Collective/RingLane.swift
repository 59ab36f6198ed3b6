/// The arithmetic side of one ring reduction: a member's working vector, how a slice of it goes on
/// the wire, and how an incoming slice is combined with it. `RingExchange` does the ring traffic
/// and calls these per frame; implementations run tight loops over unsafe buffers, so the
/// exchange is generic over the lane and nothing is dispatched per element.
///
/// One lane per wire representation (`ExactSumLane`, `ExponentMaxLane`, `FloatSumLane`,
/// `HalfWireLane`); each borrows its working vector from the caller for one `RingExchange.run`.
protocol RingLane {
    /// Bytes of one element on the wire.
    var elementBytes: Int { get }
    /// Encodes elements `range` of the working vector into `bytes` (exactly
    /// `range.count * elementBytes` long).
    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer)
    /// Combines the incoming encoded elements into `range` of the working vector
    /// (reduce-scatter).
    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer)
    /// Replaces `range` of the working vector with the incoming encoded elements (all-gather).
    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer)
    /// Called on the owned chunk once its reduction is complete and before it is gathered, so a
    /// lossy lane can round it to what the wire carries: every member must end with the same bits.
    func finishOwned(_ range: Range<Int>)
}

extension RingLane {
    func finishOwned(_ range: Range<Int>) {}
}
