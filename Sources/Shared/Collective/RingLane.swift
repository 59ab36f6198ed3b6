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
    /// Encodes this member's own contribution for elements `range`: the chunk it sends at the
    /// first reduce-scatter step, before anything was combined into it. A lane that reads its
    /// contribution from somewhere other than the working vector (the caller's micro-batch, so that
    /// it is never copied in first) reads it here. Default: `write`.
    func writeOwn(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer)
    /// Combines the incoming encoded elements with this member's own contribution for `range` and
    /// writes the result into `range` of the working vector (reduce-scatter). Every member combines
    /// each chunk it receives in the reduce-scatter once, so the contribution there is still its own.
    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer)
    /// `combine`, then `finishOwned`, for the frames of the last reduce-scatter step (which
    /// complete the owned chunk): a lane can do both in one pass over the elements.
    func combineFinishing(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer)
    /// Replaces `range` of the working vector with the incoming encoded elements (all-gather).
    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer)
    /// Where `store` would put the incoming encoded elements for `range` byte for byte (the lane's
    /// wire form is its memory form), so that a link which writes the payload anyway can write it
    /// there (`RingLink.receiveFrame(until:placing:)`); nil when `store` transforms the bytes.
    func storeDestination(_ range: Range<Int>) -> UnsafeMutableRawBufferPointer?
    /// The rest of `store` once a link has written elements `range` to `storeDestination(range)`
    /// itself (a lane that watches magnitudes reads them).
    func storedInPlace(_ range: Range<Int>)
    /// Elements `range` exactly as `write` (or, with `own`, `writeOwn`) would encode them, where
    /// they already lie in memory, for the link to send without a copy; nil when the lane must
    /// encode them. The memory must not change until the ring is over: a lane lends only what the
    /// ring does not write again (a combined chunk is written once more only after the frames it
    /// was sent in have gone all the way to its owner).
    func wireBytes(_ range: Range<Int>, own: Bool) -> UnsafeRawBufferPointer?
    /// Called on the owned chunk once its reduction is complete and before it is gathered, so a
    /// lossy lane can round it to what the wire carries: every member must end with the same bits.
    func finishOwned(_ range: Range<Int>)
}

extension RingLane {
    func writeOwn(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        write(range, into: bytes)
    }

    func finishOwned(_ range: Range<Int>) {}

    func combineFinishing(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        combine(range, from: bytes)
        finishOwned(range)
    }

    func wireBytes(_ range: Range<Int>, own: Bool) -> UnsafeRawBufferPointer? { nil }

    func storeDestination(_ range: Range<Int>) -> UnsafeMutableRawBufferPointer? { nil }

    func storedInPlace(_ range: Range<Int>) {}
}
