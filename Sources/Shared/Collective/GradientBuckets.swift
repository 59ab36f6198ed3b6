/// How a gradient vector is cut into buckets that are summed one after another while the backward
/// pass is still completing the rest (`RingAllReduce.sum(buckets:...)`). Pure: no links, no clocks.
///
/// A model's backward pass completes its flat gradient from the end towards the start
/// (`TrainableModel.gradientSuffixes`). The buckets follow that order: the first covers the end of
/// the vector, the last its start, and each is summed as soon as the backward has finished it.
/// Every bucket but the last summed (the vector's start) holds at least `minimumElements`, so a
/// slow link is not paid once per layer.
///
/// Every bucket starts at a multiple of `ExactBlockCodec.blockSize`, so a bucket holds whole
/// blocks of the vector: `exact` mode agrees on the same per-block exponents and adds the same
/// integers as in one sum of the whole vector, and its result is the same bits.
///
/// Every member of a ring must use the same buckets (the same model and settings give the same
/// ones); a member that does not fails the collective with `CollectiveError.malformed` (the
/// bucket's vector length is in every frame's header).
public struct GradientBuckets: Sendable, Equatable {
    /// The most buckets of one vector: each takes its own sequence number, `step << 8 + bucket`.
    public static let maximumCount = 256

    /// Element ranges in the order they are summed; together they cover `0..<count` exactly once.
    /// One empty range for an empty vector.
    public let ranges: [Range<Int>]

    /// - Parameters:
    ///   - count: elements in the vector.
    ///   - finalSuffixes: offsets, decreasing, from which the gradient is final at successive
    ///     points of the backward pass; offsets outside `1..<count` are ignored.
    ///   - minimumElements: the smallest bucket (but the last); 0 or less: one bucket, the whole
    ///     vector, summed after the backward pass.
    public init(count: Int, finalSuffixes: [Int], minimumElements: Int) {
        precondition(count >= 0, "a vector cannot have \(count) elements")
        guard minimumElements > 0 && count > 0 else {
            ranges = [0..<count]
            return
        }
        let minimum = max(minimumElements, (count + Self.maximumCount - 1) / Self.maximumCount)
        let block = ExactBlockCodec.blockSize
        var ranges: [Range<Int>] = []
        var end = count
        for offset in finalSuffixes {
            // Rounding a start up to a block boundary only makes the bucket ready earlier.
            let start = (offset + block - 1) / block * block
            guard start > 0 && start < end && end - start >= minimum else { continue }
            ranges.append(start..<end)
            end = start
        }
        ranges.append(0..<end)
        self.ranges = ranges
    }

    /// The whole vector as one bucket.
    public static func single(count: Int) -> GradientBuckets {
        GradientBuckets(count: count, finalSuffixes: [], minimumElements: 0)
    }
}
