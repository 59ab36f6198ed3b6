import Core
import Foundation
import Testing
@testable import Collective

/// The sum that overlaps the backward pass: bucket by bucket, each started as soon as a member's
/// last micro-batch has it complete (`RingAllReduce.startSum`), on in-process rings.
struct RingAllReduceBucketTests {
    /// Runs one bucketed sum on every member. A member's last micro-batch is completed suffix by
    /// suffix by its own thread while the ring's thread sums (`overlap`), or handed over complete.
    static func reduceInBuckets(
        _ reference: ReduceReference, worldSize n: Int, settings: AllReduceSettings, buckets: GradientBuckets,
        suffixes: [Int], assignment: [Int], overlap: Bool = true, lossScale: Float = 1, abandonAt rankToAbandon: Int? = nil
    ) -> [Result<ReduceOutcome, CollectiveError>] {
        let links = InProcessRing.make(worldSize: n)
        defer { links.forEach { $0.close() } }
        let shares = reference.deal(assignment, worldSize: n)
        return RingThreads.run(n) { rank -> Result<ReduceOutcome, CollectiveError> in
            let reducer = try! RingAllReduce(link: links[rank], settings: settings, firstSequence: RingAllReduce.firstBucketSequence(step: 7))
            let mine = shares[rank]
            guard overlap, let last = mine.last else {
                return Result { () throws(CollectiveError) in
                    try reducer.sum(buckets: buckets, complete: mine, finishing: nil, count: reference.count,
                                    totalMicroBatches: reference.microBatches.count, lossScale: lossScale)
                }
            }
            let finishing = FinishingGradient(count: reference.count)
            let pending = reducer.startSum(buckets: buckets, complete: Array(mine.dropLast()), finishing: finishing,
                                           count: reference.count, totalMicroBatches: reference.microBatches.count, lossScale: lossScale)
            // The "backward pass": writes each suffix, then says it is final.
            var end = reference.count
            for (index, offset) in (suffixes + [0]).enumerated() where offset < end {
                if rank == rankToAbandon && index == suffixes.count / 2 {
                    finishing.abandon()
                    links[rank].close()
                    return pending.wait()
                }
                for i in offset..<end { finishing.values[i] = last[i] }
                finishing.markFinal(from: offset)
                end = offset
                if index % 3 == rank % 3 { Thread.sleep(forTimeInterval: 0.001) }
            }
            return pending.wait()
        }
    }

    static func suffixes(count: Int, seed: UInt64) -> [Int] {
        var generator = SplitMix64(seed: seed)
        var offsets: [Int] = []
        var offset = count
        while offset > 0 {
            offset = max(0, offset - 1 - generator.nextInt(below: count / 5 + 1))
            offsets.append(offset)
        }
        return offsets
    }

    /// `exact` summed in buckets, overlapped or not, gives the bits of one sum of the whole vector,
    /// for every world size, bucket cut, frame size and assignment of micro-batches.
    @Test(arguments: [13, 70])
    func exactInBucketsIsBitwiseTheWholeSum(microBatches: Int) throws {
        let reference = ReduceReference.synthetic(count: 6007, microBatches: microBatches, seed: 404, maxExponent: 6)
        let whole = try #require(outcomes(reduceOnRing(reference, worldSize: 1, settings: AllReduceSettings(mode: .exact)))?[0].values)
        var generator = SplitMix64(seed: 77)
        for trial in 0..<16 {
            let n = 1 + trial % 8
            let assignment = (0..<microBatches).map { _ in generator.nextInt(below: n) }
            let suffixes = Self.suffixes(count: reference.count, seed: UInt64(trial))
            let buckets = GradientBuckets(count: reference.count, finalSuffixes: suffixes, minimumElements: 1 + generator.nextInt(below: 2000))
            let frameBytes = [8, 40, 1000, 1 << 20][generator.nextInt(below: 4)]
            let settings = AllReduceSettings(mode: .exact, frameBytes: frameBytes, window: 1 + generator.nextInt(below: 4), timeout: .seconds(20))
            let results = try #require(outcomes(Self.reduceInBuckets(reference, worldSize: n, settings: settings, buckets: buckets,
                                                                     suffixes: suffixes, assignment: assignment, overlap: trial % 4 != 3)))
            for (rank, outcome) in results.enumerated() {
                #expect(firstBitDifference(outcome.values ?? [], whole) == nil,
                        "rank \(rank), world size \(n), buckets \(buckets.ranges), frames of \(frameBytes) bytes")
            }
        }
    }

    /// `fp32` and `fp16` add in another order per bucket: every member still ends with the same
    /// bits, within the mode's bound.
    @Test(arguments: [ReduceMode.fp32, .fp16])
    func lossyModesInBucketsAgreeAndStayWithinTheirBound(mode: ReduceMode) throws {
        let reference = ReduceReference.synthetic(count: 4099, microBatches: 9, seed: 12)
        for n in 1...6 {
            let suffixes = Self.suffixes(count: reference.count, seed: UInt64(n))
            let buckets = GradientBuckets(count: reference.count, finalSuffixes: suffixes, minimumElements: 300)
            let settings = AllReduceSettings(mode: mode, frameBytes: 1000, window: 2, timeout: .seconds(20))
            let results = try #require(outcomes(Self.reduceInBuckets(reference, worldSize: n, settings: settings, buckets: buckets,
                                                                     suffixes: suffixes, assignment: (0..<9).map { $0 % n }, lossScale: 16)))
            #expect(results.allSatisfy { $0 == results[0] }, "\(mode) world size \(n): members disagree")
            let values = try #require(results[0].values)
            #expect(reference.firstViolation(of: values, mode: mode, worldSize: n, lossScale: 16) == nil)
        }
    }

    /// A non-finite value in one bucket is `.overflow` on every member, and every bucket still runs.
    @Test func anOverflowInOneBucketIsAnOverflowEverywhere() {
        var reference = ReduceReference.synthetic(count: 3000, microBatches: 4, seed: 3)
        reference = ReduceReference(microBatches: reference.microBatches.enumerated().map { index, batch in
            var batch = batch
            if index == 2 { batch[1500] = .infinity }
            return batch
        }, count: reference.count)
        let suffixes = [2560, 2048, 1024, 512]
        let buckets = GradientBuckets(count: 3000, finalSuffixes: suffixes, minimumElements: 400)
        for mode in ReduceMode.allCases {
            let settings = AllReduceSettings(mode: mode, frameBytes: 512, timeout: .seconds(20))
            let results = outcomes(Self.reduceInBuckets(reference, worldSize: 3, settings: settings, buckets: buckets,
                                                        suffixes: suffixes, assignment: [0, 1, 2, 0]))
            #expect(results == Array(repeating: .overflow, count: 3), "\(mode)")
        }
    }

    /// A member whose backward pass fails part-way abandons its gradient and closes its link: its
    /// ring thread ends with `.closed`, the others fail too, and nobody hangs.
    @Test func anAbandonedBackwardEndsEveryMemberInBoundedTime() {
        let reference = ReduceReference.synthetic(count: 5000, microBatches: 3, seed: 8)
        let suffixes = Self.suffixes(count: reference.count, seed: 5)
        let buckets = GradientBuckets(count: reference.count, finalSuffixes: suffixes, minimumElements: 200)
        let settings = AllReduceSettings(mode: .exact, frameBytes: 1024, timeout: .milliseconds(500))
        let start = ContinuousClock.now
        let results = Self.reduceInBuckets(reference, worldSize: 3, settings: settings, buckets: buckets, suffixes: suffixes,
                                           assignment: [0, 1, 2], abandonAt: 1)
        #expect(ContinuousClock.now - start < .seconds(10))
        if case .failure(.closed) = results[1] {} else { Issue.record("the abandoning member ended with \(results[1])") }
        for rank in [0, 2] {
            if case .success = results[rank] { Issue.record("rank \(rank) completed a sum that lacked a member's buckets") }
        }
    }
}
