import Testing
@testable import Collective

/// The pure cut of a gradient into buckets for a sum that overlaps the backward pass.
struct GradientBucketsTests {
    /// The buckets cover the vector once, in the backward pass's order (end first), start on block
    /// boundaries (so `exact` sums whole blocks), and only the last one is below the minimum.
    @Test func bucketsCoverTheVectorFromTheEndOnBlockBoundaries() {
        let block = ExactBlockCodec.blockSize
        for (count, minimum) in [(10_000, 1000), (122_474, 16_384), (5003, 1), (300, 256), (257, 1)] {
            // One suffix per "layer" of 700 elements, reported from the end.
            let suffixes = stride(from: count - 1, through: 0, by: -700).map { $0 }
            let buckets = GradientBuckets(count: count, finalSuffixes: suffixes, minimumElements: minimum)
            let ranges = buckets.ranges
            #expect(ranges.first?.upperBound == count)
            #expect(ranges.last?.lowerBound == 0)
            for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.lowerBound == b.upperBound) }
            #expect(ranges.allSatisfy { $0.lowerBound % block == 0 }, "\(ranges)")
            #expect(ranges.dropLast().allSatisfy { $0.count >= minimum }, "\(ranges)")
            // Each bucket is ready no later than the suffix it was cut at.
            for range in ranges.dropLast() {
                #expect(suffixes.contains { $0 <= range.lowerBound && range.lowerBound - $0 < block })
            }
        }
    }

    @Test func theGreedyCutOfCanopyNetsShape() {
        // Layers (from the end) of 256, 256, 768, 256 and 1024 elements.
        let buckets = GradientBuckets(count: 2560, finalSuffixes: [2304, 2048, 1280, 1024, 0], minimumElements: 512)
        // 2304 gives 256 < 512: skipped; 2048 gives 512; 1280 gives 768; 1024 gives 256: skipped; 0 ends it.
        #expect(buckets.ranges == [2048..<2560, 1280..<2048, 0..<1280])
    }

    @Test func noSuffixesOrNoMinimumIsOneBucket() {
        #expect(GradientBuckets(count: 5000, finalSuffixes: [], minimumElements: 100).ranges == [0..<5000])
        #expect(GradientBuckets(count: 5000, finalSuffixes: [4096, 2048], minimumElements: 0).ranges == [0..<5000])
        #expect(GradientBuckets.single(count: 0).ranges == [0..<0])
        #expect(GradientBuckets(count: 0, finalSuffixes: [0], minimumElements: 10).ranges == [0..<0])
        // Offsets outside 1..<count, or not decreasing, are ignored.
        #expect(GradientBuckets(count: 5000, finalSuffixes: [6000, 5000, 2560, 3000, 0, -1], minimumElements: 1).ranges
                == [2560..<5000, 0..<2560])
    }

    @Test func neverMoreThanTheMaximumCount() {
        let count = 1 << 20
        let suffixes = stride(from: count - 256, through: 256, by: -256).map { $0 }
        let buckets = GradientBuckets(count: count, finalSuffixes: suffixes, minimumElements: 1)
        #expect(buckets.ranges.count <= GradientBuckets.maximumCount)
        #expect(buckets.ranges.count > GradientBuckets.maximumCount / 2)
    }
}
