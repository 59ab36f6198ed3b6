/// float32 partial sums that travel as float16 (`fp16`). Every hop rounds to float16; the owner
/// rounds its finished chunk too, so the owner and the members that receive it hold the same bits.
///
/// Gathered frames are unscaled (multiplied by `unscale`, 1 / loss scale) as they are stored, and
/// their largest magnitude goes to `watch`; the caller unscales its own chunk after the ring. That
/// is the same float32 multiplication per element as a pass over the result afterwards, so the
/// bits are the same, without reading the whole vector again. It relies on the exchange never
/// encoding a gathered chunk from the working vector again (it forwards the received frames).
///
/// `own` is this member's contribution, multiplied by `ownScale` as it is read: the caller's one
/// micro-batch with the loss scale (never copied into the working vector first), or the working
/// vector itself, already scaled by a local sum of several (`ownScale` 1). The product is the
/// same float32 multiplication either way, so the bits do not depend on which.
struct HalfWireLane: RingLane {
    let values: UnsafeMutableBufferPointer<Float>
    let own: UnsafeBufferPointer<Float>
    let ownScale: Float
    let unscale: Float
    let watch: MagnitudeWatch
    var elementBytes: Int { 2 }

    init(values: UnsafeMutableBufferPointer<Float>, own: UnsafeBufferPointer<Float>? = nil, ownScale: Float = 1, unscale: Float, watch: MagnitudeWatch) {
        precondition(own == nil || own!.count == values.count, "a contribution of \(own!.count) floats for \(values.count)")
        self.values = values
        self.own = own ?? UnsafeBufferPointer(values)
        self.ownScale = own == nil ? 1 : ownScale
        self.unscale = unscale
        self.watch = watch
    }

    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        HalfConversion.narrow(UnsafeBufferPointer(rebasing: values[range]), into: bytes)
    }

    func writeOwn(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        if ownScale == 1 {
            HalfConversion.narrow(UnsafeBufferPointer(rebasing: own[range]), into: bytes)
        } else {
            HalfConversion.narrow(UnsafeBufferPointer(rebasing: own[range]), scaledBy: ownScale, into: bytes)
        }
    }

    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        let target = UnsafeMutableBufferPointer(rebasing: values[range])
        if ownScale == 1 && own.baseAddress == UnsafePointer(values.baseAddress) {
            HalfConversion.widenAdding(bytes, into: target)
        } else {
            HalfConversion.widenAdding(bytes, to: UnsafeBufferPointer(rebasing: own[range]), scaledBy: ownScale, into: target)
        }
    }

    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        watch.record(HalfConversion.widen(bytes, into: UnsafeMutableBufferPointer(rebasing: values[range]), scaledBy: unscale))
    }

    func finishOwned(_ range: Range<Int>) {
        HalfConversion.roundThroughHalf(UnsafeMutableBufferPointer(rebasing: values[range]))
    }
}
