/// Per-block exponent fields combined by maximum: the agreement step before an exact sum.
struct ExponentMaxLane: RingLane {
    let fields: UnsafeMutableBufferPointer<UInt8>
    var elementBytes: Int { 1 }

    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        bytes.copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: fields[range])))
    }

    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        for (offset, i) in range.enumerated() {
            fields[i] = max(fields[i], bytes[offset])
        }
    }

    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: fields[range])).copyMemory(from: bytes)
    }

    func storeDestination(_ range: Range<Int>) -> UnsafeMutableRawBufferPointer? {
        UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: fields[range]))
    }
}
