/// Plain float32 sums (`fp32`).
///
/// The lane also watches the final values as they are written (the owned chunk once it is
/// complete, every gathered frame as it is stored): together they are the whole result, so the
/// caller learns whether it holds an infinity or a NaN without reading it again.
///
/// `own` is this member's contribution: the caller's one micro-batch, read where it is, or the
/// working vector itself after a local sum of several. The working vector needs no copy of it: the
/// reduce-scatter writes every chunk it combines and the all-gather every other one (a ring of one
/// member has no steps, so its caller copies).
struct FloatSumLane: RingLane {
    let values: UnsafeMutableBufferPointer<Float>
    let own: UnsafeBufferPointer<Float>
    let watch: MagnitudeWatch
    var elementBytes: Int { 4 }

    init(values: UnsafeMutableBufferPointer<Float>, own: UnsafeBufferPointer<Float>? = nil, watch: MagnitudeWatch) {
        precondition(own == nil || own!.count == values.count, "a contribution of \(own!.count) floats for \(values.count)")
        self.values = values
        self.own = own ?? UnsafeBufferPointer(values)
        self.watch = watch
    }

    func write(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        bytes.copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: values[range])))
    }

    func writeOwn(_ range: Range<Int>, into bytes: UnsafeMutableRawBufferPointer) {
        bytes.copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: own[range])))
    }

    /// float32 is its own wire form: every frame can go straight from the vectors.
    func wireBytes(_ range: Range<Int>, own: Bool) -> UnsafeRawBufferPointer? {
        UnsafeRawBufferPointer(own ? UnsafeBufferPointer(rebasing: self.own[range]) : UnsafeBufferPointer(rebasing: values[range]))
    }

    func combine(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        add(range, from: bytes, watching: false)
    }

    /// The owned chunk's last combine also watches the final values, in the same pass.
    func combineFinishing(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        add(range, from: bytes, watching: true)
    }

    /// `values[range] = own[range] + incoming`, and with `watching` the largest magnitude to `watch`.
    @inline(__always)
    private func add(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer, watching: Bool) {
        guard let source = bytes.baseAddress, let target = values.baseAddress, let mine = own.baseAddress else { return }
        let out = UnsafeMutableRawPointer(target + range.lowerBound)
        let contribution = UnsafeRawPointer(mine + range.lowerBound)
        let n = range.count
        let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var widest = SIMD8<UInt32>(repeating: 0)
        var largest: UInt32 = 0
        var i = 0
        while i + 8 <= n {
            let sum = contribution.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                + source.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            out.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD8<Float>.self)
            if watching { widest = largerLanes(widest, unsafeBitCast(sum, to: SIMD8<UInt32>.self) & magnitudeMask) }
            i += 8
        }
        while i < n {
            let sum = mine[range.lowerBound + i] + source.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
            target[range.lowerBound + i] = sum
            largest = max(largest, sum.bitPattern & 0x7FFF_FFFF)
            i += 1
        }
        if watching { watch.record(max(largest, widest.max())) }
    }

    func store(_ range: Range<Int>, from bytes: UnsafeRawBufferPointer) {
        watch.record(FloatKernels.copyWatching(bytes, into: UnsafeMutableBufferPointer(rebasing: values[range])))
    }

    func storeDestination(_ range: Range<Int>) -> UnsafeMutableRawBufferPointer? {
        UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: values[range]))
    }

    func storedInPlace(_ range: Range<Int>) {
        watch.record(FloatKernels.largestMagnitudeBits(UnsafeBufferPointer(rebasing: values[range])))
    }

    func finishOwned(_ range: Range<Int>) {
        watch.record(FloatKernels.largestMagnitudeBits(UnsafeBufferPointer(rebasing: values[range])))
    }
}

/// The largest float magnitude (as IEEE bits, sign cleared) written by a lane during one
/// reduction. A value is an infinity or a NaN exactly when its magnitude bits are at least those
/// of infinity. A class so that the lane, a value passed to the exchange, can update it.
final class MagnitudeWatch {
    private(set) var largestBits: UInt32 = 0

    func record(_ bits: UInt32) { largestBits = max(largestBits, bits) }

    var sawNonFinite: Bool { largestBits >= Float.infinity.bitPattern }
}
