/// Plain float32 sums (`fp32`).
struct FloatSumLane: RingLane {
    let values: UnsafeMutableBufferPointer<Float>
    var elementBytes: Int { 4 }

    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        bytes.copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: values[range])))
    }

    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, let target = values.baseAddress else { return }
        let out = UnsafeMutableRawPointer(target + range.lowerBound)
        let n = range.count
        var i = 0
        while i + 8 <= n {
            let sum = out.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                + source.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            out.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            target[range.lowerBound + i] += source.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
            i += 1
        }
    }

    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: values[range])).copyMemory(from: bytes)
    }
}
