/// 64-bit integer sums of block fixed-point values (`exact`). Addition wraps, which is still exact:
/// the codec's headroom guarantees the final sum fits, and two's complement wrapping is associative.
struct ExactSumLane: RingLane {
    let sums: UnsafeMutableBufferPointer<Int64>
    var elementBytes: Int { 8 }

    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        bytes.copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: sums[range])))
    }

    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, let target = sums.baseAddress else { return }
        let out = UnsafeMutableRawPointer(target + range.lowerBound)
        let n = range.count
        var i = 0
        while i + 8 <= n {
            let sum = out.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Int64>.self)
                &+ source.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Int64>.self)
            out.storeBytes(of: sum, toByteOffset: i * 8, as: SIMD8<Int64>.self)
            i += 8
        }
        while i < n {
            target[range.lowerBound + i] &+= source.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)
            i += 1
        }
    }

    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: sums[range])).copyMemory(from: bytes)
    }
}

/// 32-bit integer sums of block fixed-point values (`exact` with up to
/// `ExactBlockCodec.narrowMicroBatchLimit` micro-batches): the same arithmetic as `ExactSumLane` in
/// half the bytes.
struct NarrowExactSumLane: RingLane {
    let sums: UnsafeMutableBufferPointer<Int32>
    var elementBytes: Int { 4 }

    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        bytes.copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: sums[range])))
    }

    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, let target = sums.baseAddress else { return }
        let out = UnsafeMutableRawPointer(target + range.lowerBound)
        let n = range.count
        var i = 0
        while i + 16 <= n {
            let sum = out.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Int32>.self)
                &+ source.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Int32>.self)
            out.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD16<Int32>.self)
            i += 16
        }
        while i < n {
            target[range.lowerBound + i] &+= source.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)
            i += 1
        }
    }

    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: sums[range])).copyMemory(from: bytes)
    }
}
