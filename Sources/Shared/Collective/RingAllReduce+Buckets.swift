import Foundation

/// Summing a gradient bucket by bucket, overlapped with the backward pass that completes it.
extension RingAllReduce {
    /// The sequence number of a step's first bucket: each bucket of a step takes its own
    /// (`GradientBuckets.maximumCount` per step), so no two collectives of a run share one.
    public static func firstBucketSequence(step: UInt64) -> UInt64 {
        step &* UInt64(GradientBuckets.maximumCount)
    }

    /// Sums like `sum(microBatches:count:totalMicroBatches:lossScale:)`, one `sum` per bucket of
    /// `buckets` in its order; a bucket whose part of `finishing` is not final yet is waited for.
    /// Meant for the ring's own thread while the caller's backward pass completes `finishing`.
    ///
    /// `exact` gives the same bits as one sum of the whole vector (buckets hold whole blocks, see
    /// `GradientBuckets`); `fp32` and `fp16` add in another order (each bucket has its own ring
    /// chunks), which they never promised to keep. `.overflow` when any bucket overflowed; every
    /// member runs every bucket regardless, so the rings stay in step.
    ///
    /// - Parameters:
    ///   - complete: this member's finished micro-batch gradients, each of `count` floats.
    ///   - finishing: its last micro-batch's gradient, still being computed, summed after
    ///     `complete` (the order `fp32` and `fp16` add in); nil when there is none.
    /// - Throws: what `sum` throws; `.closed` when `finishing` was abandoned (the step failed
    ///   here), after the buckets already summed.
    public func sum(
        buckets: GradientBuckets, complete: [[Float]], finishing: FinishingGradient?, count: Int, totalMicroBatches: Int,
        lossScale: Float = 1
    ) throws(CollectiveError) -> ReduceOutcome {
        precondition(buckets.ranges.last?.lowerBound == 0 && buckets.ranges.reduce(0) { $0 + $1.count } == count,
                     "buckets \(buckets.ranges) do not cover \(count) elements")
        precondition(finishing.map { $0.values.count == count } ?? true, "the finishing gradient is not \(count) floats")
        if buckets.ranges.count == 1, finishing == nil {
            return try sum(microBatches: complete, count: count, totalMicroBatches: totalMicroBatches, lossScale: lossScale)
        }
        var result = takeResultBuffer(count: count)
        var overflow = false
        for range in buckets.ranges {
            if let finishing, !finishing.waitFinal(from: range.lowerBound) {
                throw .closed(reason: "the backward pass of this member's last micro-batch was abandoned")
            }
            var batches = complete.map { Array($0[range]) }
            if let finishing { batches.append(finishing.copy(range)) }
            switch try sum(microBatches: batches, count: range.count, totalMicroBatches: totalMicroBatches, lossScale: lossScale) {
            case .sum(let part):
                result.withUnsafeMutableBufferPointer { target in
                    part.withUnsafeBufferPointer { _ = UnsafeMutableBufferPointer(rebasing: target[range]).update(fromContentsOf: $0) }
                }
            case .overflow:
                overflow = true
            }
        }
        resultScratch = result
        return overflow ? .overflow : .sum(result)
    }
}

extension RingAllReduce {
    /// Starts `sum(buckets:...)` on a thread of its own (the ring's, so that it can wait for the
    /// caller's backward pass) and returns at once. Until `PendingSum.wait()` returns, this
    /// instance and its link belong to that thread. To stop it early, abandon `finishing` and
    /// close the link: it then ends within one receive.
    public func startSum(
        buckets: GradientBuckets, complete: [[Float]], finishing: FinishingGradient?, count: Int, totalMicroBatches: Int,
        lossScale: Float = 1
    ) -> PendingSum {
        let pending = PendingSum(reducer: self)
        let thread = Thread { [pending] in
            pending.finish(Result { () throws(CollectiveError) in
                try pending.reducer.sum(buckets: buckets, complete: complete, finishing: finishing, count: count,
                                        totalMicroBatches: totalMicroBatches, lossScale: lossScale)
            })
        }
        thread.name = "grove-ring-sum"
        thread.stackSize = 1 << 20
        thread.start()
        return pending
    }
}

/// A sum running on the ring's thread (`RingAllReduce.startSum`).
///
/// `@unchecked Sendable`: `reducer` is used only by the summing thread until `outcome` is set, and
/// `outcome` is only touched while `condition` is locked.
public final class PendingSum: @unchecked Sendable {
    fileprivate let reducer: RingAllReduce
    private let condition = NSCondition()
    private var outcome: Result<ReduceOutcome, CollectiveError>?

    fileprivate init(reducer: RingAllReduce) { self.reducer = reducer }

    fileprivate func finish(_ result: Result<ReduceOutcome, CollectiveError>) {
        condition.lock()
        outcome = result
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the sum's end: bounded by the ring's receive deadlines and by the caller's own
    /// backward pass, which completes or abandons the gradient the sum waits for.
    public func wait() -> Result<ReduceOutcome, CollectiveError> {
        condition.lock()
        defer { condition.unlock() }
        while outcome == nil { condition.wait() }
        return outcome!
    }
}
