/// Block fixed point: the encoding that makes `exact` sums independent of order and grouping.
///
/// The vector is cut into blocks of `blockSize` consecutive elements (fixed, so the blocks do not
/// depend on the world size, chunks or frames). Every block has one shared exponent `E` such that
/// every value of every micro-batch in the block satisfies `|v| < 2^E`; the members agree on it by a
/// max-reduce of the per-block exponent fields before the sum. Each micro-batch value is then
/// rounded (to nearest, ties to even) to an integer multiple of `2^(E - fractionBits)` and kept as
/// an integer. Integer addition is exact and associative, so the sum of the integers is the same
/// whatever the order, the world size, or which member encoded which micro-batch.
///
/// Width and headroom: every encoded value has magnitude at most `2^fractionBits`.
/// - Up to `narrowMicroBatchLimit` (64) micro-batches per step, the integers are 32 bits wide and
///   `fractionBits = 30 - ceil(log2(totalMicroBatches))` (at least 24, a float's own significand at
///   the block maximum), so the sum of all micro-batches stays within `2^30` and cannot overflow an
///   `Int32`. The ring then moves 4 bytes per element, as many as `fp32`.
/// - Above it, 64 bits with `fractionBits = min(51, 62 - ceil(log2(totalMicroBatches)))` (sum
///   below `2^62`). The cap of 51 keeps the scaled value inside the range where adding
///   `1.5 * 2^52` rounds it to an integer in one floating-point addition, which is what lets the
///   encoder run as plain SIMD arithmetic.
/// Both depend on `totalMicroBatches` only, which is the same for every world size of a run, so the
/// result stays bitwise identical across world sizes, ring orders, chunkings and assignments.
///
/// Error: see `errorBound(sum:fieldOfBlock:absoluteSum:)` and docs/all-reduce.md.
public struct ExactBlockCodec: Sendable, Equatable {
    /// Elements per block that share one exponent.
    public static let blockSize = 256
    /// The exponent field that marks a block holding an infinity or a NaN.
    public static let nonFiniteField: UInt8 = 255
    /// The largest `totalMicroBatches` the codec accepts (it still leaves 32 fraction bits).
    public static let maximumMicroBatches = 1 << 30
    /// The largest `totalMicroBatches` summed as 32-bit integers (leaving 24 fraction bits).
    public static let narrowMicroBatchLimit = 64

    /// The smallest `E - fractionBits` for which 32-bit sums decode in float arithmetic:
    /// `Float(sum) * 2^(E - fractionBits)` rounds once (the conversion) and the scaling is exact as
    /// long as no nonzero result can be subnormal, which `|sum| >= 1` guarantees from 2^-126 up.
    /// It then has the bits of `Float(Double(sum) * 2^(E - fractionBits))`. Blocks below (values
    /// under about 2^-96) take the double path.
    static let floatDecodePower = -126

    /// Bits below the block exponent kept for every encoded micro-batch value.
    public let fractionBits: Int
    /// Bytes of one encoded sum: 4 (`Int32`) up to `narrowMicroBatchLimit` micro-batches, else 8.
    public let sumBytes: Int
    /// The number of micro-batches summed, over all members.
    public let totalMicroBatches: Int

    /// - Parameter totalMicroBatches: micro-batches in the whole step, over all members,
    ///   `1...maximumMicroBatches`.
    public init(totalMicroBatches: Int) {
        precondition(
            totalMicroBatches >= 1 && totalMicroBatches <= Self.maximumMicroBatches,
            "totalMicroBatches \(totalMicroBatches) is outside 1...\(Self.maximumMicroBatches)")
        self.totalMicroBatches = totalMicroBatches
        let headroom = Int.bitWidth - (totalMicroBatches - 1).leadingZeroBitCount  // ceil(log2 M)
        if totalMicroBatches <= Self.narrowMicroBatchLimit {
            self.sumBytes = 4
            self.fractionBits = 30 - headroom
        } else {
            self.sumBytes = 8
            self.fractionBits = min(51, 62 - headroom)
        }
    }

    /// Blocks covering `count` elements.
    public static func blockCount(for count: Int) -> Int {
        (count + blockSize - 1) / blockSize
    }

    /// `E` for a block whose largest exponent field is `field`: every value `v` of the block has
    /// `|v| < 2^E`. Fields 0 (zeros and subnormals) and 1 share `E = -125`.
    @inline(__always)
    public static func blockExponent(field: UInt8) -> Int {
        max(Int(field), 1) - 126
    }

    /// Raises `fields[b]` to the largest IEEE exponent field among `values` in block `b`.
    /// A block that holds an infinity or a NaN gets `nonFiniteField`.
    public static func mergeExponents(of values: UnsafeBufferPointer<Float>, into fields: UnsafeMutableBufferPointer<UInt8>) {
        precondition(fields.count == blockCount(for: values.count), "\(fields.count) exponent fields for \(values.count) values")
        guard let base = values.baseAddress else { return }
        let raw = UnsafeRawPointer(base)
        let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        for block in 0..<fields.count {
            let start = block * blockSize
            let end = min(start + blockSize, values.count)
            var widest = SIMD8<UInt32>(repeating: 0)
            var i = start
            while i + 8 <= end {
                let bits = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<UInt32>.self) & magnitudeMask
                widest = largerLanes(widest, bits)
                i += 8
            }
            var largest = widest.max()
            while i < end {
                largest = max(largest, base[i].bitPattern & 0x7FFF_FFFF)
                i += 1
            }
            fields[block] = max(fields[block], UInt8(truncatingIfNeeded: largest >> 23))
        }
    }

    /// Adds the encoding of one micro-batch to `sums`, using the agreed exponent `fields` (none of
    /// which may be `nonFiniteField`). With `overwrite`, stores the encoding instead: a member's
    /// first micro-batch then needs no zeroed buffer, which saves two passes over 8-byte sums.
    public func accumulate(
        _ values: UnsafeBufferPointer<Float>, fields: UnsafeBufferPointer<UInt8>, into sums: UnsafeMutableBufferPointer<Int64>,
        overwrite: Bool = false
    ) {
        precondition(values.count == sums.count && fields.count == Self.blockCount(for: values.count))
        guard let base = values.baseAddress, let out = sums.baseAddress else { return }
        let raw = UnsafeRawPointer(base)
        let outRaw = UnsafeMutableRawPointer(out)
        // Adding 1.5 * 2^52 to |x| <= 2^51 leaves a double whose low mantissa bits are
        // round-to-nearest-even(x), offset by the magic's own bit pattern.
        let magic = 6_755_399_441_055_744.0
        let magicBits = Int64(bitPattern: magic.bitPattern)
        for block in 0..<fields.count {
            let scale = Double(sign: .plus, exponent: fractionBits - Self.blockExponent(field: fields[block]), significand: 1)
            let start = block * Self.blockSize
            let end = min(start + Self.blockSize, values.count)
            let scale8 = SIMD8<Double>(repeating: scale)
            let magic8 = SIMD8<Double>(repeating: magic)
            let magicBits8 = SIMD8<Int64>(repeating: magicBits)
            var i = start
            while i + 8 <= end {
                let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                let shifted = SIMD8<Double>(v) * scale8 + magic8
                let q = unsafeBitCast(shifted, to: SIMD8<Int64>.self) &- magicBits8
                let sum = overwrite ? q : (outRaw.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Int64>.self) &+ q)
                outRaw.storeBytes(of: sum, toByteOffset: i * 8, as: SIMD8<Int64>.self)
                i += 8
            }
            while i < end {
                let shifted = Double(base[i]) * scale + magic
                let q = Int64(bitPattern: shifted.bitPattern) &- magicBits
                out[i] = overwrite ? q : out[i] &+ q
                i += 1
            }
        }
    }

    /// Turns summed integers back into floats: `Float(Double(sum) * 2^(E - fractionBits))`.
    /// The conversion rounds twice (to a double, then to a float); it is a fixed function of the
    /// integer sum, so every member gets the same bits.
    ///
    /// Returns whether any decoded value is infinite (a sum beyond float's range), checked while
    /// the values are in registers rather than in another pass over memory.
    ///
    /// AVX2 has no int64-to-double instruction, so the eight-wide loop builds the double from the
    /// two 32-bit halves: each half becomes an exact double by placing its bits in a mantissa
    /// (`2^84 + 2^63 + hi * 2^32` and `2^52 + lo`) and subtracting the offset, and adding the two
    /// rounds once, exactly like a scalar conversion.
    @discardableResult
    public func decode(_ sums: UnsafeBufferPointer<Int64>, fields: UnsafeBufferPointer<UInt8>, into values: UnsafeMutableBufferPointer<Float>) -> Bool {
        precondition(values.count == sums.count && fields.count == Self.blockCount(for: values.count))
        guard let source = sums.baseAddress, let out = values.baseAddress else { return false }
        let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var widest = SIMD8<UInt32>(repeating: 0)
        var largest: UInt32 = 0
        let raw = UnsafeRawPointer(source)
        let outRaw = UnsafeMutableRawPointer(out)
        let highBias = SIMD8<UInt64>(repeating: 0x4530_0000_8000_0000)
        let lowBias = SIMD8<UInt64>(repeating: 0x4330_0000_0000_0000)
        let offset = SIMD8<Double>(repeating: 0x1p84 + 0x1p63 + 0x1p52)
        for block in 0..<fields.count {
            let unit = Double(sign: .plus, exponent: Self.blockExponent(field: fields[block]) - fractionBits, significand: 1)
            let unit8 = SIMD8<Double>(repeating: unit)
            let start = block * Self.blockSize
            let end = min(start + Self.blockSize, values.count)
            var i = start
            while i + 8 <= end {
                let bits = raw.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<UInt64>.self)
                let high = unsafeBitCast((bits &>> 32) ^ highBias, to: SIMD8<Double>.self)
                let low = unsafeBitCast((bits & 0xFFFF_FFFF) | lowBias, to: SIMD8<Double>.self)
                let value = SIMD8<Float>(((high - offset) + low) * unit8)
                outRaw.storeBytes(of: value, toByteOffset: i * 4, as: SIMD8<Float>.self)
                widest = largerLanes(widest, unsafeBitCast(value, to: SIMD8<UInt32>.self) & magnitudeMask)
                i += 8
            }
            while i < end {
                out[i] = Float(Double(source[i]) * unit)
                largest = max(largest, out[i].bitPattern & 0x7FFF_FFFF)
                i += 1
            }
        }
        return max(largest, widest.max()) >= Float.infinity.bitPattern
    }

    /// `accumulate` for the 32-bit sums (`sumBytes == 4`). The scaled values fit in 31 bits, so the
    /// low 32 bits of the magic-offset double are the two's complement integer itself (the magic
    /// constant's low 32 bits are zero).
    public func accumulate(
        _ values: UnsafeBufferPointer<Float>, fields: UnsafeBufferPointer<UInt8>, into sums: UnsafeMutableBufferPointer<Int32>,
        overwrite: Bool = false
    ) {
        precondition(values.count == sums.count && fields.count == Self.blockCount(for: values.count))
        guard let out = sums.baseAddress else { return }
        encode(values, range: 0..<values.count, fields: fields, into: UnsafeMutableRawPointer(out),
               adding: overwrite ? nil : UnsafeRawPointer(out))
    }

    /// Encodes elements `range` of `values` as 32-bit integers (`sumBytes == 4`) into `out`, which
    /// holds `range.count` of them from its start (unaligned), adding the integers at `adding`
    /// (laid out the same way; it may be `out` itself) when given. Blocks are those of the whole
    /// vector, so a range may start and end anywhere: the ring encodes frame by frame.
    public func encode(
        _ values: UnsafeBufferPointer<Float>, range: Range<Int>, fields: UnsafeBufferPointer<UInt8>,
        into out: UnsafeMutableRawPointer, adding: UnsafeRawPointer?
    ) {
        precondition(sumBytes == 4, "32-bit sums for \(totalMicroBatches) micro-batches")
        precondition(range.lowerBound >= 0 && range.upperBound <= values.count && fields.count == Self.blockCount(for: values.count))
        guard let base = values.baseAddress, !range.isEmpty else { return }
        let raw = UnsafeRawPointer(base)
        let magic = 6_755_399_441_055_744.0
        let magic8 = SIMD8<Double>(repeating: magic)
        for block in (range.lowerBound / Self.blockSize)...((range.upperBound - 1) / Self.blockSize) {
            let scale = Double(sign: .plus, exponent: fractionBits - Self.blockExponent(field: fields[block]), significand: 1)
            let scale8 = SIMD8<Double>(repeating: scale)
            let start = max(block * Self.blockSize, range.lowerBound)
            let end = min((block + 1) * Self.blockSize, range.upperBound)
            var i = start
            while i + 8 <= end {
                let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                let shifted = SIMD8<Double>(v) * scale8 + magic8
                var q = SIMD8<Int32>(truncatingIfNeeded: unsafeBitCast(shifted, to: SIMD8<Int64>.self))
                let offset = (i - range.lowerBound) * 4
                if let adding { q &+= adding.loadUnaligned(fromByteOffset: offset, as: SIMD8<Int32>.self) }
                out.storeBytes(of: q, toByteOffset: offset, as: SIMD8<Int32>.self)
                i += 8
            }
            while i < end {
                let shifted = Double(base[i]) * scale + magic
                var q = Int32(truncatingIfNeeded: Int64(bitPattern: shifted.bitPattern))
                let offset = (i - range.lowerBound) * 4
                if let adding { q &+= adding.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
                out.storeBytes(of: q, toByteOffset: offset, as: Int32.self)
                i += 1
            }
        }
    }

    /// The last reduce-scatter step of a 32-bit ring, in one pass: for every element of `range`,
    /// the member's contribution (`own` encoded, or the integers at `existing`) plus the incoming
    /// integer is decoded into `result` (the all-gather sends the decoded values from there).
    /// Returns the largest decoded magnitude as IEEE bits, as `decode` does. `existing` and
    /// `incoming` hold `range.count` integers from their start; the bits are those of
    /// `encode(adding:)` followed by `decode`.
    public func combineAndDecode(
        own: UnsafeBufferPointer<Float>?, existing: UnsafeRawPointer?, range: Range<Int>, fields: UnsafeBufferPointer<UInt8>,
        incoming: UnsafeRawPointer, into result: UnsafeMutableBufferPointer<Float>
    ) -> UInt32 {
        precondition(sumBytes == 4, "32-bit sums for \(totalMicroBatches) micro-batches")
        precondition(range.lowerBound >= 0 && range.upperBound <= result.count && fields.count == Self.blockCount(for: result.count))
        precondition(own == nil || own!.count == result.count)
        precondition(own != nil || existing != nil, "no contribution to combine")
        guard let out = result.baseAddress, !range.isEmpty else { return 0 }
        let outRaw = UnsafeMutableRawPointer(out)
        let ownRaw = own.map { UnsafeRawPointer($0.baseAddress!) }
        let magic = 6_755_399_441_055_744.0
        let magic8 = SIMD8<Double>(repeating: magic)
        let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var widest = SIMD8<UInt32>(repeating: 0)
        var largest: UInt32 = 0
        for block in (range.lowerBound / Self.blockSize)...((range.upperBound - 1) / Self.blockSize) {
            let exponent = Self.blockExponent(field: fields[block])
            let scale8 = SIMD8<Double>(repeating: Double(sign: .plus, exponent: fractionBits - exponent, significand: 1))
            let unit = Double(sign: .plus, exponent: exponent - fractionBits, significand: 1)
            let unit8 = SIMD8<Double>(repeating: unit)
            let floatDecode = exponent - fractionBits >= Self.floatDecodePower
            let floatUnit8 = SIMD8<Float>(repeating: floatDecode ? Float(sign: .plus, exponent: exponent - fractionBits, significand: 1) : 0)
            let start = max(block * Self.blockSize, range.lowerBound)
            let end = min((block + 1) * Self.blockSize, range.upperBound)
            var i = start
            while i + 8 <= end {
                let offset = (i - range.lowerBound) * 4
                var q: SIMD8<Int32>
                if let ownRaw {
                    let shifted = SIMD8<Double>(ownRaw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)) * scale8 + magic8
                    q = SIMD8<Int32>(truncatingIfNeeded: unsafeBitCast(shifted, to: SIMD8<Int64>.self))
                } else {
                    q = existing!.loadUnaligned(fromByteOffset: offset, as: SIMD8<Int32>.self)
                }
                q &+= incoming.loadUnaligned(fromByteOffset: offset, as: SIMD8<Int32>.self)
                let value = floatDecode ? SIMD8<Float>(q) * floatUnit8 : SIMD8<Float>(SIMD8<Double>(q) * unit8)
                outRaw.storeBytes(of: value, toByteOffset: i * 4, as: SIMD8<Float>.self)
                widest = largerLanes(widest, unsafeBitCast(value, to: SIMD8<UInt32>.self) & magnitudeMask)
                i += 8
            }
            while i < end {
                let offset = (i - range.lowerBound) * 4
                var q: Int32
                if let own {
                    let shifted = Double(own[i]) * Double(sign: .plus, exponent: fractionBits - exponent, significand: 1) + magic
                    q = Int32(truncatingIfNeeded: Int64(bitPattern: shifted.bitPattern))
                } else {
                    q = existing!.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                }
                q &+= incoming.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                out[i] = Float(Double(q) * unit)
                largest = max(largest, out[i].bitPattern & 0x7FFF_FFFF)
                i += 1
            }
        }
        return max(largest, widest.max())
    }

    /// `decode` for the 32-bit sums: `Float(Double(sum) * 2^(E - fractionBits))`, where the
    /// conversion to a double and the scaling are exact, so the float rounding is the only one.
    @discardableResult
    public func decode(_ sums: UnsafeBufferPointer<Int32>, fields: UnsafeBufferPointer<UInt8>, into values: UnsafeMutableBufferPointer<Float>) -> Bool {
        precondition(values.count == sums.count && fields.count == Self.blockCount(for: values.count))
        guard let source = sums.baseAddress else { return false }
        return decode(UnsafeRawPointer(source), range: 0..<values.count, fields: fields, into: values) >= Float.infinity.bitPattern
    }

    /// Decodes `range.count` 32-bit sums at `sums` (unaligned, from its start) into elements
    /// `range` of `values`, and returns the largest magnitude written as IEEE bits with the sign
    /// cleared (at least infinity's when a sum is beyond float's range): the ring decodes each
    /// gathered frame straight from the transport's buffer into the result.
    public func decode(
        _ sums: UnsafeRawPointer, range: Range<Int>, fields: UnsafeBufferPointer<UInt8>, into values: UnsafeMutableBufferPointer<Float>
    ) -> UInt32 {
        precondition(range.lowerBound >= 0 && range.upperBound <= values.count && fields.count == Self.blockCount(for: values.count))
        guard let out = values.baseAddress, !range.isEmpty else { return 0 }
        let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var widest = SIMD8<UInt32>(repeating: 0)
        var largest: UInt32 = 0
        let outRaw = UnsafeMutableRawPointer(out)
        for block in (range.lowerBound / Self.blockSize)...((range.upperBound - 1) / Self.blockSize) {
            let power = Self.blockExponent(field: fields[block]) - fractionBits
            let unit = Double(sign: .plus, exponent: power, significand: 1)
            let unit8 = SIMD8<Double>(repeating: unit)
            let start = max(block * Self.blockSize, range.lowerBound)
            let end = min((block + 1) * Self.blockSize, range.upperBound)
            var i = start
            if power >= Self.floatDecodePower {
                // Float(sum) rounds once, and scaling by 2^power is exact above the subnormals:
                // the bits of the double path at twice the width per instruction.
                let floatUnit8 = SIMD8<Float>(repeating: Float(sign: .plus, exponent: power, significand: 1))
                while i + 8 <= end {
                    let integers = sums.loadUnaligned(fromByteOffset: (i - range.lowerBound) * 4, as: SIMD8<Int32>.self)
                    let value = SIMD8<Float>(integers) * floatUnit8
                    outRaw.storeBytes(of: value, toByteOffset: i * 4, as: SIMD8<Float>.self)
                    widest = largerLanes(widest, unsafeBitCast(value, to: SIMD8<UInt32>.self) & magnitudeMask)
                    i += 8
                }
            }
            while i + 8 <= end {
                let integers = sums.loadUnaligned(fromByteOffset: (i - range.lowerBound) * 4, as: SIMD8<Int32>.self)
                let value = SIMD8<Float>(SIMD8<Double>(integers) * unit8)
                outRaw.storeBytes(of: value, toByteOffset: i * 4, as: SIMD8<Float>.self)
                widest = largerLanes(widest, unsafeBitCast(value, to: SIMD8<UInt32>.self) & magnitudeMask)
                i += 8
            }
            while i < end {
                out[i] = Float(Double(sums.loadUnaligned(fromByteOffset: (i - range.lowerBound) * 4, as: Int32.self)) * unit)
                largest = max(largest, out[i].bitPattern & 0x7FFF_FFFF)
                i += 1
            }
        }
        return max(largest, widest.max())
    }

    /// The most a decoded exact sum `sum` can differ from the float64 sequential sum of the same
    /// values: half a float ulp of the result (final rounding), plus `2^-52` times the sum of
    /// magnitudes (the intermediate double rounding and the float64 reference's own error, about
    /// `M * 2^-53` of it), plus `M` half-units of the block's fixed point (each micro-batch's
    /// encoding).
    ///
    /// - Parameters:
    ///   - sum: the decoded exact result.
    ///   - field: the agreed exponent field of the element's block.
    ///   - absoluteSum: the sum of the magnitudes of the element's micro-batch values.
    public func errorBound(sum: Float, fieldOfBlock field: UInt8, absoluteSum: Double) -> Double {
        let finalRounding = Double(sum.ulp) / 2
        let quantum = Double(sign: .plus, exponent: Self.blockExponent(field: field) - fractionBits - 1, significand: 1)
        let m = Double(totalMicroBatches)
        return finalRounding + m * quantum + (m + 1) * 0x1p-53 * absoluteSum
    }
}
