/// float32 partial sums that travel as float16 (`fp16`). Every hop rounds to float16; the owner
/// rounds its finished chunk too, so the owner and the members that receive it hold the same bits.
struct HalfWireLane: RingLane {
    let values: UnsafeMutableBufferPointer<Float>
    var elementBytes: Int { 2 }

    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        HalfConversion.narrow(UnsafeBufferPointer(rebasing: values[range]), into: bytes)
    }

    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        HalfConversion.widenAdding(bytes, into: UnsafeMutableBufferPointer(rebasing: values[range]))
    }

    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        HalfConversion.widen(bytes, into: UnsafeMutableBufferPointer(rebasing: values[range]))
    }

    func finishOwned(_ range: Range<Int>) {
        HalfConversion.roundThroughHalf(UnsafeMutableBufferPointer(rebasing: values[range]))
    }
}
