/// float32 <-> float16 kernels for the `fp16` wire. Built with F16C (the target's flags), the
/// eight-wide conversions compile to single `vcvtps2ph` / `vcvtph2ps` instructions; without it
/// they would be a library call per value. Conversions round to nearest even; values beyond
/// float16's range become infinities, which is how an overflow shows up.
public enum HalfConversion {
    /// Writes `values` as little-endian float16 into `bytes` (`2 * values.count` long).
    public static func narrow(_ values: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count == values.count * 2, "\(bytes.count) bytes for \(values.count) halves")
        guard let source = values.baseAddress, let out = bytes.baseAddress else { return }
        let raw = UnsafeRawPointer(source)
        var i = 0
        while i + 8 <= values.count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            out.storeBytes(of: SIMD8<Float16>(v), toByteOffset: i * 2, as: SIMD8<Float16>.self)
            i += 8
        }
        while i < values.count {
            out.storeBytes(of: Float16(source[i]), toByteOffset: i * 2, as: Float16.self)
            i += 1
        }
    }

    /// Writes `values[i] * factor` (the product in float32) as little-endian float16 into
    /// `bytes`: the loss scaling and the narrowing of a member's own chunk in one pass.
    public static func narrow(_ values: UnsafeBufferPointer<Float>, scaledBy factor: Float, into bytes: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count == values.count * 2, "\(bytes.count) bytes for \(values.count) halves")
        guard let source = values.baseAddress, let out = bytes.baseAddress else { return }
        let raw = UnsafeRawPointer(source)
        let factor8 = SIMD8<Float>(repeating: factor)
        var i = 0
        while i + 8 <= values.count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * factor8
            out.storeBytes(of: SIMD8<Float16>(v), toByteOffset: i * 2, as: SIMD8<Float16>.self)
            i += 8
        }
        while i < values.count {
            out.storeBytes(of: Float16(source[i] * factor), toByteOffset: i * 2, as: Float16.self)
            i += 1
        }
    }

    /// `wire[i] = float16(own[i] * factor + widen(incoming[i]))`, the arithmetic in float32: a
    /// received `fp16` partial sum combined with a member's contribution and narrowed at once for
    /// the next hop, without a float32 partial in between. `incoming` and `wire` hold
    /// `own.count` halves from their start (unaligned).
    public static func combine(_ incoming: UnsafeRawPointer, own: UnsafeBufferPointer<Float>, scaledBy factor: Float, into wire: UnsafeMutableRawPointer) {
        guard let mine = own.baseAddress else { return }
        let contribution = UnsafeRawPointer(mine)
        let factor8 = SIMD8<Float>(repeating: factor)
        var i = 0
        while i + 8 <= own.count {
            let h = incoming.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<Float16>.self)
            let sum = contribution.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * factor8 + SIMD8<Float>(h)
            wire.storeBytes(of: SIMD8<Float16>(sum), toByteOffset: i * 2, as: SIMD8<Float16>.self)
            i += 8
        }
        while i < own.count {
            let sum = mine[i] * factor + Float(incoming.loadUnaligned(fromByteOffset: i * 2, as: Float16.self))
            wire.storeBytes(of: Float16(sum), toByteOffset: i * 2, as: Float16.self)
            i += 1
        }
    }

    /// `combine` for the frames that complete a member's own chunk: also writes the finished
    /// value, `Float(wire[i]) * unscale`, to `values` (which may be `own` itself) and returns its
    /// largest magnitude as IEEE bits with the sign cleared.
    public static func combineFinishing(
        _ incoming: UnsafeRawPointer, own: UnsafeBufferPointer<Float>, scaledBy factor: Float, unscale: Float,
        into wire: UnsafeMutableRawPointer, values: UnsafeMutableBufferPointer<Float>
    ) -> UInt32 {
        precondition(values.count == own.count, "\(own.count) contributions for \(values.count) values")
        guard let mine = own.baseAddress, let out = values.baseAddress else { return 0 }
        let contribution = UnsafeRawPointer(mine)
        let outRaw = UnsafeMutableRawPointer(out)
        let factor8 = SIMD8<Float>(repeating: factor)
        let unscale8 = SIMD8<Float>(repeating: unscale)
        let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var widest = SIMD8<UInt32>(repeating: 0)
        var largest: UInt32 = 0
        var i = 0
        while i + 8 <= own.count {
            let h = incoming.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<Float16>.self)
            let sum = contribution.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * factor8 + SIMD8<Float>(h)
            let narrow = SIMD8<Float16>(sum)
            wire.storeBytes(of: narrow, toByteOffset: i * 2, as: SIMD8<Float16>.self)
            let value = SIMD8<Float>(narrow) * unscale8
            outRaw.storeBytes(of: value, toByteOffset: i * 4, as: SIMD8<Float>.self)
            widest = largerLanes(widest, unsafeBitCast(value, to: SIMD8<UInt32>.self) & magnitudeMask)
            i += 8
        }
        while i < own.count {
            let narrow = Float16(mine[i] * factor + Float(incoming.loadUnaligned(fromByteOffset: i * 2, as: Float16.self)))
            wire.storeBytes(of: narrow, toByteOffset: i * 2, as: Float16.self)
            out[i] = Float(narrow) * unscale
            largest = max(largest, out[i].bitPattern & 0x7FFF_FFFF)
            i += 1
        }
        return max(largest, widest.max())
    }

    /// `values[i] = Float(Float16(values[i])) * unscale`; returns the largest magnitude written as
    /// IEEE bits with the sign cleared (a ring of one finishing its whole vector).
    public static func roundThroughHalf(_ values: UnsafeMutableBufferPointer<Float>, thenScaleBy unscale: Float) -> UInt32 {
        guard let out = values.baseAddress else { return 0 }
        var largest: UInt32 = 0
        for i in 0..<values.count {
            out[i] = Float(Float16(out[i])) * unscale
            largest = max(largest, out[i].bitPattern & 0x7FFF_FFFF)
        }
        return largest
    }

    /// Reads little-endian float16 `bytes` into `values`.
    public static func widen(_ bytes: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>) {
        precondition(bytes.count == values.count * 2, "\(bytes.count) bytes for \(values.count) halves")
        guard let source = bytes.baseAddress, let out = values.baseAddress else { return }
        let raw = UnsafeMutableRawPointer(out)
        var i = 0
        while i + 8 <= values.count {
            let h = source.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<Float16>.self)
            raw.storeBytes(of: SIMD8<Float>(h), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < values.count {
            out[i] = Float(source.loadUnaligned(fromByteOffset: i * 2, as: Float16.self))
            i += 1
        }
    }

    /// Reads little-endian float16 `bytes` into `values`, each multiplied by `factor` in float32,
    /// and returns the largest magnitude written as IEEE bits with the sign cleared: the widening,
    /// unscaling and overflow check of a gathered `fp16` frame in one pass.
    public static func widen(_ bytes: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>, scaledBy factor: Float) -> UInt32 {
        precondition(bytes.count == values.count * 2, "\(bytes.count) bytes for \(values.count) halves")
        guard let source = bytes.baseAddress, let out = values.baseAddress else { return 0 }
        let raw = UnsafeMutableRawPointer(out)
        let factor8 = SIMD8<Float>(repeating: factor)
        let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var widest = SIMD8<UInt32>(repeating: 0)
        var largest: UInt32 = 0
        var i = 0
        while i + 8 <= values.count {
            let h = source.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<Float16>.self)
            let value = SIMD8<Float>(h) * factor8
            raw.storeBytes(of: value, toByteOffset: i * 4, as: SIMD8<Float>.self)
            widest = largerLanes(widest, unsafeBitCast(value, to: SIMD8<UInt32>.self) & magnitudeMask)
            i += 8
        }
        while i < values.count {
            out[i] = Float(source.loadUnaligned(fromByteOffset: i * 2, as: Float16.self)) * factor
            largest = max(largest, out[i].bitPattern & 0x7FFF_FFFF)
            i += 1
        }
        return max(largest, widest.max())
    }

}
