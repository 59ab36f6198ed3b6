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

    func wireBytes(_ range: Range<Int>, own: Bool) -> UnsafeRawBufferPointer? {
        UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: sums[range]))
    }
}

/// 32-bit integer sums of block fixed-point values (`exact` with up to
/// `ExactBlockCodec.narrowMicroBatchLimit` micro-batches): the same arithmetic as `ExactSumLane` in
/// half the bytes, with the encoding and decoding done frame by frame inside the ring.
///
/// `own` is the member's one micro-batch, encoded as its frames are written and combined (never as
/// a separate pass into `sums`); nil when `sums` already holds the member's encoded contribution
/// (several micro-batches, or none). The result is decoded into `result` as it becomes final: the
/// owned chunk once complete, every gathered frame straight from the transport's buffer (gathered
/// sums are never stored). The encoding and decoding are fixed functions of each element, its
/// block's exponent and the codec, so the bits are those of encoding and decoding whole vectors.
struct NarrowExactSumLane: RingLane {
    let sums: UnsafeMutableBufferPointer<Int32>
    let own: UnsafeBufferPointer<Float>?
    let codec: ExactBlockCodec
    let fields: UnsafeBufferPointer<UInt8>
    let result: UnsafeMutableBufferPointer<Float>
    let watch: MagnitudeWatch
    var elementBytes: Int { 4 }

    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        bytes.copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: sums[range])))
    }

    func writeOwn(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        guard let own, let out = bytes.baseAddress else { return write(range, into: bytes) }
        codec.encode(own, range: range, fields: fields, into: out, adding: nil)
    }

    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, let target = sums.baseAddress else { return }
        if let own {
            codec.encode(own, range: range, fields: fields, into: UnsafeMutableRawPointer(target + range.lowerBound), adding: source)
            return
        }
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

    /// The owned chunk's last combine decodes it into `result` in the same pass.
    func combineFinishing(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, let target = sums.baseAddress else { return }
        watch.record(codec.combineAndDecode(own: own, range: range, fields: fields, incoming: source,
                                            sums: UnsafeMutableRawPointer(target + range.lowerBound), into: result))
    }

    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        watch.record(codec.decode(source, range: range, fields: fields, into: result))
    }

    /// The sums are lent as they are; a member's own micro-batch is encoded as it is written.
    /// Gathered frames are decoded into `result`, never into `sums`, so a lent chunk stays put.
    func wireBytes(_ range: Range<Int>, own: Bool) -> UnsafeRawBufferPointer? {
        own && self.own != nil ? nil : UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: sums[range]))
    }

    func finishOwned(_ range: Range<Int>) {
        guard let source = sums.baseAddress, !range.isEmpty else { return }
        watch.record(codec.decode(UnsafeRawPointer(source + range.lowerBound), range: range, fields: fields, into: result))
    }
}
