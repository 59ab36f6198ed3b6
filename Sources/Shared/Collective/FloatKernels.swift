/// Small float32 vector loops shared by the `fp32` and `fp16` modes, written over unsafe buffers
/// and eight-wide SIMD so that they stay a small fraction of a reduce's time.
enum FloatKernels {
    /// The element-wise sum of `batches` in order (zeros if there are none).
    static func localSum(_ batches: [[Float]], count: Int) -> [Float] {
        guard let first = batches.first else { return [Float](repeating: 0, count: count) }
        var total = first
        total.withUnsafeMutableBufferPointer { out in
            for batch in batches.dropFirst() {
                batch.withUnsafeBufferPointer { add($0, into: out) }
            }
        }
        return total
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

    /// `values[i] *= factor`.
    static func multiply(_ values: UnsafeMutableBufferPointer<Float>, by factor: Float) {
        guard factor != 1, let target = values.baseAddress else { return }
        let raw = UnsafeMutableRawPointer(target)
        let factor8 = SIMD8<Float>(repeating: factor)
        var i = 0
        while i + 8 <= values.count {
            raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * factor8,
                           toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < values.count {
            target[i] *= factor
            i += 1
        }
    }

    /// Whether any value is an infinity or a NaN (all exponent bits set).
    static func containsNonFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return false }
            let raw = UnsafeRawPointer(base)
            let exponentMask = SIMD8<UInt32>(repeating: 0x7F80_0000)
            var i = 0
            while i + 8 <= buffer.count {
                let bits = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<UInt32>.self) & exponentMask
                if any(bits .== exponentMask) { return true }
                i += 8
            }
            while i < buffer.count {
                if !base[i].isFinite { return true }
                i += 1
            }
            return false
        }
    }
}
