/// The lanes `RingAllReduce` runs: one per wire representation. Each borrows its working vector
/// from the caller for the length of one `RingExchange.run`.

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
}

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
