/// Small float32 vector loops shared by the `fp32` and `fp16` modes, written over unsafe buffers
/// and eight-wide SIMD so that they stay a small fraction of a reduce's time.
enum FloatKernels {
    /// Writes the element-wise sum of `batches`, in order, times `scale` into `out` (zeros if
    /// there are none). Every batch has `out.count` elements.
    ///
    /// The multiplication shares the pass of the last batch, which saves a read and a write of
    /// the whole vector; the bits are those of summing everything first and scaling afterwards.
    static func localSum(_ batches: [[Float]], into out: UnsafeMutableBufferPointer<Float>, scaledBy scale: Float = 1) {
        guard let first = batches.first else {
            out.update(repeating: 0)
            return
        }
        if batches.count == 1 && scale != 1 {
            first.withUnsafeBufferPointer { scaled($0, by: scale, into: out) }
            return
        }
        first.withUnsafeBufferPointer { _ = out.update(fromContentsOf: $0) }
        for (index, batch) in batches.enumerated().dropFirst() {
            let factor: Float = index == batches.count - 1 ? scale : 1
            batch.withUnsafeBufferPointer { add($0, into: out, thenScaleBy: factor) }
        }
    }

    /// `out[i] = values[i] * scale`.
    private static func scaled(_ values: UnsafeBufferPointer<Float>, by scale: Float, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(values.count == out.count)
        guard let source = values.baseAddress, let target = out.baseAddress else { return }
        let raw = UnsafeRawPointer(source)
        let outRaw = UnsafeMutableRawPointer(target)
        let factor = SIMD8<Float>(repeating: scale)
        var i = 0
        while i + 8 <= out.count {
            outRaw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * factor, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < out.count {
            target[i] = source[i] * scale
            i += 1
        }
    }

    /// `out[i] = (out[i] + values[i]) * scale`; plain `out[i] += values[i]` when `scale` is 1.
    private static func add(_ values: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>, thenScaleBy scale: Float) {
        guard scale != 1 else { return add(values, into: out) }
        precondition(values.count == out.count)
        guard let source = values.baseAddress, let target = out.baseAddress else { return }
        let raw = UnsafeRawPointer(source)
        let outRaw = UnsafeMutableRawPointer(target)
        let factor = SIMD8<Float>(repeating: scale)
        var i = 0
        while i + 8 <= out.count {
            let sum = outRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                + raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            outRaw.storeBytes(of: sum * factor, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < out.count {
            target[i] = (target[i] + source[i]) * scale
            i += 1
        }
    }

    /// `out[i] += values[i]`.
    static func add(_ values: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(values.count == out.count)
        guard let source = values.baseAddress, let target = out.baseAddress else { return }
        let raw = UnsafeRawPointer(source)
        let outRaw = UnsafeMutableRawPointer(target)
        var i = 0
        while i + 8 <= out.count {
            let sum = outRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                + raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            outRaw.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < out.count {
            target[i] += source[i]
            i += 1
        }
    }

    /// Copies little-endian float32 `bytes` into `values` and returns the largest magnitude
    /// written as IEEE bits with the sign cleared: a gathered frame stored and checked in one pass.
    static func copyWatching(_ bytes: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>) -> UInt32 {
        precondition(bytes.count == values.count * 4, "\(bytes.count) bytes for \(values.count) floats")
        guard let source = bytes.baseAddress, let target = values.baseAddress else { return 0 }
        let out = UnsafeMutableRawPointer(target)
        let n = values.count
        let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var widest = SIMD8<UInt32>(repeating: 0)
        var largest: UInt32 = 0
        var i = 0
        while i + 8 <= n {
            let bits = source.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<UInt32>.self)
            out.storeBytes(of: bits, toByteOffset: i * 4, as: SIMD8<UInt32>.self)
            widest = largerLanes(widest, bits & magnitudeMask)
            i += 8
        }
        while i < n {
            let bits = source.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
            target[i] = Float(bitPattern: bits)
            largest = max(largest, bits & 0x7FFF_FFFF)
            i += 1
        }
        return max(largest, widest.max())
    }

    /// The largest magnitude among `values` as IEEE bits with the sign cleared (0 when empty).
    static func largestMagnitudeBits(_ values: UnsafeBufferPointer<Float>) -> UInt32 {
        guard let base = values.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var widest = SIMD8<UInt32>(repeating: 0)
        var i = 0
        while i + 8 <= values.count {
            widest = largerLanes(widest, raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<UInt32>.self) & magnitudeMask)
            i += 8
        }
        var largest = widest.max()
        while i < values.count {
            largest = max(largest, base[i].bitPattern & 0x7FFF_FFFF)
            i += 1
        }
        return largest
    }
}

/// Lane-wise maximum of two vectors of magnitude bits. The standard library's generic
/// `pointwiseMax` is sometimes left as a call per vector in these loops (2 % of an fp16 reduce);
/// this one is always inlined and compiles to one `vpmaxud`.
@inline(__always)
func largerLanes(_ a: SIMD8<UInt32>, _ b: SIMD8<UInt32>) -> SIMD8<UInt32> {
    a.replacing(with: b, where: b .> a)
}
