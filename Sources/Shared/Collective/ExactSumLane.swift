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

    func storeDestination(_ range: Range<Int>) -> UnsafeMutableRawBufferPointer? {
        UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: sums[range]))
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
/// (several micro-batches, or none). The reduce-scatter moves integers. The owner decodes its
/// chunk into `result` as the last frames complete it, and the all-gather carries those decoded
/// float32 values (as many bytes as the integers): members store them as they come, with no
/// decoding, and every member holds the owner's bits — which are the bits any member would decode,
/// the decoding being a fixed function of the integer sum, its block's exponent and the codec.
struct NarrowExactSumLane: RingLane {
    let sums: UnsafeMutableBufferPointer<Int32>
    let own: UnsafeBufferPointer<Float>?
    let codec: ExactBlockCodec
    let fields: UnsafeBufferPointer<UInt8>
    let result: UnsafeMutableBufferPointer<Float>
    /// This member's owned chunk: its frames go out from `result` (decoded), the others from `sums`.
    let owned: Range<Int>
    let watch: MagnitudeWatch
    var elementBytes: Int { 4 }

    private func isOwned(_ range: Range<Int>) -> Bool {
        owned.lowerBound <= range.lowerBound && range.upperBound <= owned.upperBound
    }

    /// What goes on the wire for `range`: decoded values of the owned chunk, else integer sums.
    private func outgoing(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        isOwned(range) ? UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: result[range]))
            : UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: sums[range]))
    }

    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        bytes.copyMemory(from: outgoing(range))
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

    /// The owned chunk's last combine decodes it into `result` in the same pass; its integer sum
    /// is not kept (the all-gather sends the decoded values).
    func combineFinishing(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, let existing = sums.baseAddress else { return }
        watch.record(codec.combineAndDecode(own: own, existing: UnsafeRawPointer(existing + range.lowerBound), range: range,
                                            fields: fields, incoming: source, into: result))
    }

    /// A gathered frame holds the owner's decoded values: stored as they are.
    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        watch.record(FloatKernels.copyWatching(bytes, into: UnsafeMutableBufferPointer(rebasing: result[range])))
    }

    func storeDestination(_ range: Range<Int>) -> UnsafeMutableRawBufferPointer? {
        UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: result[range]))
    }

    func storedInPlace(_ range: Range<Int>) {
        watch.record(FloatKernels.largestMagnitudeBits(UnsafeBufferPointer(rebasing: result[range])))
    }

    /// Sums and decoded values are lent as they are; a member's own micro-batch is encoded as it
    /// is written. Neither is written again during the ring once sent.
    func wireBytes(_ range: Range<Int>, own: Bool) -> UnsafeRawBufferPointer? {
        own && self.own != nil ? nil : outgoing(range)
    }

    /// A ring of one: the whole vector is decoded from the sums.
    func finishOwned(_ range: Range<Int>) {
        guard let source = sums.baseAddress, !range.isEmpty else { return }
        watch.record(codec.decode(UnsafeRawPointer(source + range.lowerBound), range: range, fields: fields, into: result))
    }
}
