/// float32 partial sums that travel as float16 (`fp16`). Every hop rounds to float16; the owner
/// rounds its finished chunk too, so the owner and the members that receive it hold the same bits.
///
/// A received partial sum is added to the member's contribution in float32 and narrowed at once
/// into `wire`, this member's float16 copy of what it sends on: the next step lends those bytes to
/// the link (`wireBytes`), and no float32 partial is ever written. The frames that complete the
/// owned chunk also write its final values, unscaled (multiplied by `unscale`, 1 / loss scale).
/// Gathered frames are unscaled as they are stored. Both report their largest magnitude to
/// `watch`, so the caller learns of an infinity or a NaN without reading the result again. The
/// bits are those of rounding and scaling whole vectors: the same float32 operations per element.
///
/// `own` is this member's contribution, multiplied by `ownScale` as it is read: the caller's one
/// micro-batch with the loss scale (never copied into the working vector first), or the working
/// vector itself, already scaled by a local sum of several (`ownScale` 1). The product is the
/// same float32 multiplication either way, so the bits do not depend on which.
struct HalfWireLane: RingLane {
    let values: UnsafeMutableBufferPointer<Float>
    let own: UnsafeBufferPointer<Float>
    let ownScale: Float
    /// float16 scratch of the vector's length: a chunk's partial sums between the step that
    /// combines them and the step that sends them, and the owned chunk for the all-gather.
    let wire: UnsafeMutableRawBufferPointer
    let unscale: Float
    let watch: MagnitudeWatch
    var elementBytes: Int { 2 }

    init(values: UnsafeMutableBufferPointer<Float>, own: UnsafeBufferPointer<Float>? = nil, ownScale: Float = 1,
         wire: UnsafeMutableRawBufferPointer, unscale: Float, watch: MagnitudeWatch) {
        precondition(own == nil || own!.count == values.count, "a contribution of \(own!.count) floats for \(values.count)")
        precondition(wire.count == values.count * 2, "\(wire.count) wire bytes for \(values.count) values")
        self.values = values
        self.own = own ?? UnsafeBufferPointer(values)
        self.ownScale = own == nil ? 1 : ownScale
        self.wire = wire
        self.unscale = unscale
        self.watch = watch
    }

    private func wireSlice(_ range: Range<Int>) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: wire[(range.lowerBound * 2)..<(range.upperBound * 2)])
    }

    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        bytes.copyMemory(from: UnsafeRawBufferPointer(wireSlice(range)))
    }

    func writeOwn(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        HalfConversion.narrow(UnsafeBufferPointer(rebasing: own[range]), scaledBy: ownScale, into: bytes)
    }

    /// Everything but the member's own first chunk is in `wire` already.
    func wireBytes(_ range: Range<Int>, own: Bool) -> UnsafeRawBufferPointer? {
        own ? nil : UnsafeRawBufferPointer(wireSlice(range))
    }

    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        guard let incoming = bytes.baseAddress, let target = wireSlice(range).baseAddress else { return }
        HalfConversion.combine(incoming, own: UnsafeBufferPointer(rebasing: own[range]), scaledBy: ownScale, into: target)
    }

    func combineFinishing(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        guard let incoming = bytes.baseAddress, let target = wireSlice(range).baseAddress else { return }
        watch.record(HalfConversion.combineFinishing(
            incoming, own: UnsafeBufferPointer(rebasing: own[range]), scaledBy: ownScale, unscale: unscale,
            into: target, values: UnsafeMutableBufferPointer(rebasing: values[range])))
    }

    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        watch.record(HalfConversion.widen(bytes, into: UnsafeMutableBufferPointer(rebasing: values[range]), scaledBy: unscale))
    }

    /// A ring of one: its whole vector (the scaled local sum) is rounded and unscaled in place.
    func finishOwned(_ range: Range<Int>) {
        watch.record(HalfConversion.roundThroughHalf(UnsafeMutableBufferPointer(rebasing: values[range]), thenScaleBy: unscale))
    }
}
