/// Small float32 vector loops shared by the `fp32` and `fp16` modes, written over unsafe buffers
/// and eight-wide SIMD so that they stay a small fraction of a reduce's time.
enum FloatKernels {
    /// Writes the element-wise sum of `batches`, in order, into `out` (zeros if there are none).
    /// Every batch has `out.count` elements.
    static func localSum(_ batches: [[Float]], into out: UnsafeMutableBufferPointer<Float>) {
        guard let first = batches.first else {
            out.update(repeating: 0)
            return
        }
        first.withUnsafeBufferPointer { _ = out.update(fromContentsOf: $0) }
        for batch in batches.dropFirst() {
            batch.withUnsafeBufferPointer { add($0, into: out) }
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

    /// `values[i] *= factor`; returns whether any result is an infinity or a NaN (checked in the
    /// same pass, which saves reading the vector again).
    static func multiplyCheckingFinite(_ values: UnsafeMutableBufferPointer<Float>, by factor: Float) -> Bool {
        guard let target = values.baseAddress else { return false }
        let raw = UnsafeMutableRawPointer(target)
        let factor8 = SIMD8<Float>(repeating: factor)
        let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var widest = SIMD8<UInt32>(repeating: 0)
        var largest: UInt32 = 0
        var i = 0
        while i + 8 <= values.count {
            let product = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * factor8
            raw.storeBytes(of: product, toByteOffset: i * 4, as: SIMD8<Float>.self)
            widest = pointwiseMax(widest, unsafeBitCast(product, to: SIMD8<UInt32>.self) & magnitudeMask)
            i += 8
        }
        while i < values.count {
            target[i] *= factor
            largest = max(largest, target[i].bitPattern & 0x7FFF_FFFF)
            i += 1
        }
        return max(largest, widest.max()) >= Float.infinity.bitPattern
    }

    /// Whether any value is an infinity or a NaN. A value is non-finite exactly when its magnitude
    /// bits are at least those of infinity, so the loop keeps a running maximum (no branch per
    /// vector) and looks at it once per 4096 values.
    static func containsNonFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return false }
            let raw = UnsafeRawPointer(base)
            let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
            let infinity = Float.infinity.bitPattern
            var start = 0
            while start < buffer.count {
                let end = min(start + 4096, buffer.count)
                var widest = SIMD8<UInt32>(repeating: 0)
                var i = start
                while i + 8 <= end {
                    widest = pointwiseMax(widest, raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<UInt32>.self) & magnitudeMask)
                    i += 8
                }
                var largest = widest.max()
                while i < end {
                    largest = max(largest, base[i].bitPattern & 0x7FFF_FFFF)
                    i += 1
                }
                if largest >= infinity { return true }
                start = end
            }
            return false
        }
    }
}
