/// float32 partial sums that travel as float16 (`fp16`). Every hop rounds to float16; the owner
/// rounds its finished chunk too, so the owner and the members that receive it hold the same bits.
///
/// Gathered frames are unscaled (multiplied by `unscale`, 1 / loss scale) as they are stored, and
/// their largest magnitude goes to `watch`; the caller unscales its own chunk after the ring. That
/// is the same float32 multiplication per element as a pass over the result afterwards, so the
/// bits are the same, without reading the whole vector again. It relies on the exchange never
/// encoding a gathered chunk from the working vector again (it forwards the received frames).
struct HalfWireLane: RingLane {
    let values: UnsafeMutableBufferPointer<Float>
    let unscale: Float
    let watch: MagnitudeWatch
    var elementBytes: Int { 2 }

    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        HalfConversion.narrow(UnsafeBufferPointer(rebasing: values[range]), into: bytes)
    }

    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        HalfConversion.widenAdding(bytes, into: UnsafeMutableBufferPointer(rebasing: values[range]))
    }

    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        watch.record(HalfConversion.widen(bytes, into: UnsafeMutableBufferPointer(rebasing: values[range]), scaledBy: unscale))
    }

    func finishOwned(_ range: Range<Int>) {
        HalfConversion.roundThroughHalf(UnsafeMutableBufferPointer(rebasing: values[range]))
    }
}
