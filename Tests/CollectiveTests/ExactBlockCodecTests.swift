import Core
import Testing
@testable import Collective

@Suite struct ExactBlockCodecTests {
    @Test func fractionBitsLeaveHeadroomForTheMicroBatchCount() {
        // 32-bit sums up to 64 micro-batches: 30 bits less the headroom.
        #expect(ExactBlockCodec(totalMicroBatches: 1).fractionBits == 30)
        #expect(ExactBlockCodec(totalMicroBatches: 1).sumBytes == 4)
        #expect(ExactBlockCodec(totalMicroBatches: 2).fractionBits == 29)
        #expect(ExactBlockCodec(totalMicroBatches: 8).fractionBits == 27)
        #expect(ExactBlockCodec(totalMicroBatches: 64).fractionBits == 24)
        #expect(ExactBlockCodec(totalMicroBatches: 64).sumBytes == 4)
        // 64-bit sums above.
        #expect(ExactBlockCodec(totalMicroBatches: 65).sumBytes == 8)
        #expect(ExactBlockCodec(totalMicroBatches: 65).fractionBits == 51)
        #expect(ExactBlockCodec(totalMicroBatches: 2048).fractionBits == 51)
        #expect(ExactBlockCodec(totalMicroBatches: 2049).fractionBits == 50)
        #expect(ExactBlockCodec(totalMicroBatches: 1 << 20).fractionBits == 42)
    }

    @Test func blockExponentBoundsEveryValueOfTheBlock() {
        for value: Float in [1, 0.75, 3, 1e-30, 1e30, .greatestFiniteMagnitude, .leastNonzeroMagnitude, Float.leastNormalMagnitude / 4] {
            let field = UInt8(value.bitPattern >> 23)
            let e = ExactBlockCodec.blockExponent(field: field)
            #expect(Double(value) < Double(sign: .plus, exponent: e, significand: 1), "value \(value)")
            #expect(Double(value) >= Double(sign: .plus, exponent: e - 2, significand: 1) || field <= 1, "value \(value)")
        }
    }

    @Test func mergeExponentsTakesTheLargestPerBlockAndFlagsNonFinite() {
        var values = [Float](repeating: 0.5, count: 600)
        values[300] = -8
        values[599] = .nan
        var fields = [UInt8](repeating: 0, count: 3)
        values.withUnsafeBufferPointer { v in fields.withUnsafeMutableBufferPointer { ExactBlockCodec.mergeExponents(of: v, into: $0) } }
        #expect(fields == [126, 130, 255])
    }

    @Test func representableValuesSurviveEncodingExactly() {
        let values: [Float] = (0..<300).map { Float($0 % 17) * 0.125 - 1 }
        let codec = ExactBlockCodec(totalMicroBatches: 3)
        #expect(roundTrip([values, values, values], codec: codec) == values.map { $0 * 3 })
        #expect(roundTrip32([values, values, values], codec: codec) == values.map { $0 * 3 })
    }

    /// At the headroom limit every value of every micro-batch rounds to the largest integer the
    /// width allows: 64 of them must still sum without wrapping, whatever their signs.
    @Test func narrowSumsDoNotOverflowAtTheHeadroomLimit() {
        let codec = ExactBlockCodec(totalMicroBatches: 64)
        let largest = Float(1).nextDown  // encodes to 2^fractionBits in a block with exponent 0
        for sign: Float in [1, -1] {
            let batch = [Float](repeating: sign * largest, count: 300)
            let result = roundTrip32(Array(repeating: batch, count: 64), codec: codec)
            let reference = ReduceReference(microBatches: Array(repeating: batch, count: 64), count: 300)
            #expect(reference.firstViolation(of: result, mode: .exact, worldSize: 1) == nil, "sign \(sign)")
            #expect(result.allSatisfy { $0 == sign * 64 * largest }, "sign \(sign): \(result[0])")
        }
    }

    @Test func narrowAndWideSumsAgreeWithinTheBound() {
        let reference = ReduceReference.synthetic(count: 1001, microBatches: 7, seed: 23)
        let codec = ExactBlockCodec(totalMicroBatches: 7)
        #expect(codec.sumBytes == 4)
        let narrow = roundTrip32(reference.microBatches, codec: codec)
        let backward = roundTrip32(reference.microBatches.reversed(), codec: codec)
        #expect(firstBitDifference(narrow, backward) == nil)
        #expect(reference.firstViolation(of: narrow, mode: .exact, worldSize: 1) == nil)
    }

    /// The ring encodes and decodes frame by frame, at ranges that start and end inside blocks:
    /// piece by piece must give the bits of the whole vector at once.
    @Test func rangesEncodeAndDecodeLikeTheWholeVector() {
        let reference = ReduceReference.synthetic(count: 1301, microBatches: 2, seed: 31, maxExponent: 5)
        let codec = ExactBlockCodec(totalMicroBatches: 2)
        var fields = [UInt8](repeating: 0, count: ExactBlockCodec.blockCount(for: reference.count))
        fields.withUnsafeMutableBufferPointer { f in
            for batch in reference.microBatches { batch.withUnsafeBufferPointer { ExactBlockCodec.mergeExponents(of: $0, into: f) } }
        }
        var whole = [Int32](repeating: 0, count: reference.count)
        var pieces = [Int32](repeating: 0, count: reference.count)
        var decodedWhole = [Float](repeating: 0, count: reference.count)
        var decodedPieces = [Float](repeating: 0, count: reference.count)
        let cuts = [0, 3, 256, 300, 511, 512, 900, 1301]
        fields.withUnsafeBufferPointer { f in
            for (index, batch) in reference.microBatches.enumerated() {
                batch.withUnsafeBufferPointer { values in
                    whole.withUnsafeMutableBufferPointer { codec.accumulate(values, fields: f, into: $0, overwrite: index == 0) }
                    pieces.withUnsafeMutableBufferPointer { out in
                        for (a, b) in zip(cuts, cuts.dropFirst()) {
                            let target = UnsafeMutableRawPointer(out.baseAddress! + a)
                            codec.encode(values, range: a..<b, fields: f, into: target, adding: index == 0 ? nil : UnsafeRawPointer(target))
                        }
                    }
                }
            }
            whole.withUnsafeBufferPointer { s in decodedWhole.withUnsafeMutableBufferPointer { _ = codec.decode(s, fields: f, into: $0) } }
            pieces.withUnsafeBufferPointer { s in
                decodedPieces.withUnsafeMutableBufferPointer { out in
                    for (a, b) in zip(cuts, cuts.dropFirst()) {
                        _ = codec.decode(UnsafeRawPointer(s.baseAddress! + a), range: a..<b, fields: f, into: out)
                    }
                }
            }
        }
        #expect(whole == pieces)
        #expect(firstBitDifference(decodedWhole, decodedPieces) == nil)
        #expect(reference.firstViolation(of: decodedPieces, mode: .exact, worldSize: 1) == nil)
    }

    @Test func vectorDecodeOfNarrowSumsMatchesScalarConversionBitForBit() {
        var generator = SplitMix64(seed: 19)
        var sums: [Int32] = [0, 1, -1, 1 << 30, -(1 << 30), Int32.max, Int32.min, (1 << 24) + 1, -(1 << 24) - 1]
        for _ in 0..<1000 {
            let shift = UInt32(generator.nextInt(below: 31))
            sums.append(Int32(truncatingIfNeeded: generator.next()) >> shift)
        }
        let codec = ExactBlockCodec(totalMicroBatches: 2)
        // Fields 28-30 straddle the switch from the double to the float decoding path (power -127 / -126 / -125).
        for field: UInt8 in [1, 28, 29, 30, 100, 140, 250] {
            let fields = [UInt8](repeating: field, count: ExactBlockCodec.blockCount(for: sums.count))
            var decoded = [Float](repeating: 0, count: sums.count)
            sums.withUnsafeBufferPointer { s in
                fields.withUnsafeBufferPointer { f in decoded.withUnsafeMutableBufferPointer { _ = codec.decode(s, fields: f, into: $0) } }
            }
            let unit = Double(sign: .plus, exponent: ExactBlockCodec.blockExponent(field: field) - codec.fractionBits, significand: 1)
            let scalar = sums.map { Float(Double($0) * unit) }
            #expect(firstBitDifference(decoded, scalar) == nil, "field \(field)")
        }
    }

    @Test func sumsDoNotDependOnTheOrderOfMicroBatches() {
        let reference = ReduceReference.synthetic(count: 777, microBatches: 9, seed: 3)
        let codec = ExactBlockCodec(totalMicroBatches: 9)
        let forward = roundTrip(reference.microBatches, codec: codec)
        let backward = roundTrip(reference.microBatches.reversed(), codec: codec)
        #expect(forward.map(\.bitPattern) == backward.map(\.bitPattern))
        #expect(reference.firstViolation(of: forward, mode: .exact, worldSize: 1) == nil)
    }

    @Test func boundIsTightEnoughToCatchAOneUlpMistake() {
        let reference = ReduceReference.synthetic(count: 512, microBatches: 4, seed: 11)
        var result = roundTrip(reference.microBatches, codec: ExactBlockCodec(totalMicroBatches: 4))
        let i = reference.absoluteSum.firstIndex { $0 > 0.1 }!
        result[i] = result[i].nextUp.nextUp
        #expect(reference.firstViolation(of: result, mode: .exact, worldSize: 1) != nil)
    }

    /// The eight-wide decoder assembles doubles from 32-bit halves; it must round exactly like
    /// the scalar `Double(Int64)` conversion, including at the extremes of the headroom.
    @Test func vectorDecodeMatchesScalarConversionBitForBit() {
        var generator = SplitMix64(seed: 17)
        var sums: [Int64] = [0, 1, -1, 1 << 62, -(1 << 62), (1 << 53) + 1, -(1 << 53) - 1, Int64(UInt32.max), -Int64(UInt32.max)]
        for _ in 0..<1000 {
            let shift = UInt64(generator.nextInt(below: 63))
            sums.append(Int64(bitPattern: generator.next()) >> shift)
        }
        let codec = ExactBlockCodec(totalMicroBatches: 2)
        let fields = [UInt8](repeating: 140, count: ExactBlockCodec.blockCount(for: sums.count))
        var decoded = [Float](repeating: 0, count: sums.count)
        sums.withUnsafeBufferPointer { s in
            fields.withUnsafeBufferPointer { f in decoded.withUnsafeMutableBufferPointer { _ = codec.decode(s, fields: f, into: $0) } }
        }
        let unit = Double(sign: .plus, exponent: ExactBlockCodec.blockExponent(field: 140) - codec.fractionBits, significand: 1)
        let scalar = sums.map { Float(Double($0) * unit) }
        #expect(firstBitDifference(decoded, scalar) == nil)
    }

    private func roundTrip(_ batches: [[Float]], codec: ExactBlockCodec) -> [Float] {
        let count = batches[0].count
        var fields = [UInt8](repeating: 0, count: ExactBlockCodec.blockCount(for: count))
        var sums = [Int64](repeating: 0, count: count)
        var out = [Float](repeating: 0, count: count)
        fields.withUnsafeMutableBufferPointer { f in
            for b in batches { b.withUnsafeBufferPointer { ExactBlockCodec.mergeExponents(of: $0, into: f) } }
        }
        fields.withUnsafeBufferPointer { f in
            sums.withUnsafeMutableBufferPointer { s in
                for b in batches { b.withUnsafeBufferPointer { codec.accumulate($0, fields: f, into: s) } }
            }
            sums.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { _ = codec.decode(s, fields: f, into: $0) } }
        }
        return out
    }

    private func roundTrip32(_ batches: [[Float]], codec: ExactBlockCodec) -> [Float] {
        let count = batches[0].count
        var fields = [UInt8](repeating: 0, count: ExactBlockCodec.blockCount(for: count))
        var sums = [Int32](repeating: 0, count: count)
        var out = [Float](repeating: 0, count: count)
        fields.withUnsafeMutableBufferPointer { f in
            for b in batches { b.withUnsafeBufferPointer { ExactBlockCodec.mergeExponents(of: $0, into: f) } }
        }
        fields.withUnsafeBufferPointer { f in
            sums.withUnsafeMutableBufferPointer { s in
                for (index, b) in batches.enumerated() {
                    b.withUnsafeBufferPointer { codec.accumulate($0, fields: f, into: s, overwrite: index == 0) }
                }
            }
            sums.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { _ = codec.decode(s, fields: f, into: $0) } }
        }
        return out
    }
}
