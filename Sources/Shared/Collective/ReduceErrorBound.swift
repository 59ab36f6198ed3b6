/// How far each mode's result may be from the float64 sequential sum of the same micro-batch
/// values, per element. docs/all-reduce.md derives these; the tests and the contract suite check
/// them. `absoluteSum` is the sum of the magnitudes of the element's values over all micro-batches
/// (unscaled), `microBatches` the number of micro-batches, `worldSize` the ring size.
public enum ReduceErrorBound {
    /// float32's unit roundoff.
    static let u32 = 0x1p-24
    /// float16's unit roundoff.
    static let u16 = 0x1p-11

    /// `exact`: see `ExactBlockCodec.errorBound`. Needs the element's agreed exponent field, which
    /// `ExactBlockCodec.mergeExponents` over all micro-batches reproduces.
    public static func exact(sum: Float, field: UInt8, absoluteSum: Double, microBatches: Int) -> Double {
        ExactBlockCodec(totalMicroBatches: microBatches).errorBound(sum: sum, fieldOfBlock: field, absoluteSum: absoluteSum)
    }

    /// `fp32`: every value passes through at most `microBatches + worldSize` float32 additions
    /// (local sums, then ring hops), each off by at most one unit roundoff of a partial sum.
    public static func fp32(absoluteSum: Double, microBatches: Int, worldSize: Int) -> Double {
        Double(microBatches + worldSize + 1) * u32 * absoluteSum
    }

    /// `fp16`: the float32 additions as in `fp32`, plus `worldSize` roundings to float16 (one per
    /// hop and one by the owner), each off by a float16 unit roundoff of the scaled partial sum or
    /// half of float16's smallest subnormal, whichever is larger; both are divided by `lossScale`
    /// when the sum is unscaled.
    public static func fp16(absoluteSum: Double, microBatches: Int, worldSize: Int, lossScale: Float) -> Double {
        let hops = Double(worldSize)
        let halfRounding = hops * (u16 * absoluteSum + 0x1p-25 / Double(lossScale))
        return halfRounding * 1.01 + Double(microBatches + worldSize + 3) * u32 * absoluteSum
    }
}
