import Core
import Testing
@testable import Collective

@Suite struct RingAllReduceTests {
    @Test(arguments: ReduceMode.allCases)
    func everyModeMatchesTheFloat64SumWithinItsBound(mode: ReduceMode) {
        for n in 1...8 {
            for (count, frameBytes) in [(1, 12), (n + 2, 8), (1999 + 2 * n, 100), (4099, 4096)] {
                let reference = ReduceReference.synthetic(count: count, microBatches: 2 * n + 1, seed: UInt64(n * 1000 + count))
                let settings = AllReduceSettings(mode: mode, frameBytes: frameBytes, window: 2, timeout: .seconds(20))
                guard let results = outcomes(reduceOnRing(reference, worldSize: n, settings: settings, lossScale: 16)) else {
                    Issue.record("\(mode) world size \(n) count \(count): a member failed")
                    continue
                }
                #expect(results.allSatisfy { $0 == results[0] }, "\(mode) world size \(n): members disagree")
                guard let values = results[0].values else {
                    Issue.record("\(mode) world size \(n) count \(count): overflow on finite data")
                    continue
                }
                let violation = reference.firstViolation(of: values, mode: mode, worldSize: n, lossScale: 16)
                #expect(violation == nil)
            }
        }
    }

    @Test func membersWithoutMicroBatchesStillTakePart() {
        let reference = ReduceReference.synthetic(count: 1000, microBatches: 2, seed: 5)
        for mode in ReduceMode.allCases {
            let settings = AllReduceSettings(mode: mode, frameBytes: 256)
            let results = outcomes(reduceOnRing(reference, worldSize: 5, settings: settings, assignment: [4, 1]))
            #expect(results?.allSatisfy { $0 == results?[0] } == true)
            #expect(results.flatMap { reference.firstViolation(of: $0[0].values ?? [], mode: mode, worldSize: 5) } == nil)
        }
    }

    /// A member with one micro-batch has the ring read it in place (no copy into the working
    /// vector); one with several sums them locally first. Both must give the bits of the same sum:
    /// adding an all-zero micro-batch to every member changes nothing in `fp32` and `fp16`.
    @Test(arguments: [ReduceMode.fp32, .fp16])
    func oneMicroBatchReadInPlaceGivesTheBitsOfALocalSum(mode: ReduceMode) {
        for n in 2...6 {
            let single = ReduceReference.synthetic(count: 3001 + n, microBatches: n, seed: UInt64(70 + n))
            let zeros = [Float](repeating: 0, count: single.count)
            let padded = ReduceReference(microBatches: single.microBatches + Array(repeating: zeros, count: n), count: single.count)
            let settings = AllReduceSettings(mode: mode, frameBytes: 1000, window: 3, timeout: .seconds(20))
            let inPlace = outcomes(reduceOnRing(single, worldSize: n, settings: settings, assignment: Array(0..<n), lossScale: 16))
            let summed = outcomes(reduceOnRing(padded, worldSize: n, settings: settings, assignment: Array(0..<n) + Array(0..<n), lossScale: 16))
            guard let inPlace, let summed, let a = inPlace[0].values, let b = summed[0].values else {
                Issue.record("\(mode) world size \(n): a member failed or overflowed")
                continue
            }
            #expect(inPlace.allSatisfy { $0 == inPlace[0] }, "\(mode) world size \(n): members disagree")
            #expect(firstBitDifference(a, b) == nil, "\(mode) world size \(n)")
            #expect(single.firstViolation(of: a, mode: mode, worldSize: n, lossScale: 16) == nil)
        }
    }

    /// The headline property: `exact` gives the same bits for every world size, ring order, frame
    /// size, window and assignment of micro-batches to members.
    @Test func exactIsBitwiseIdenticalForAnyRingAndAssignment() throws {
        let reference = ReduceReference.synthetic(count: 5003, microBatches: 13, seed: 99, maxExponent: 6)
        let single = try #require(outcomes(reduceOnRing(reference, worldSize: 1, settings: AllReduceSettings(mode: .exact)))?[0].values)
        #expect(reference.firstViolation(of: single, mode: .exact, worldSize: 1) == nil)
        var generator = SplitMix64(seed: 2024)
        for trial in 0..<24 {
            let n = 1 + trial % 8
            let assignment = (0..<13).map { _ in generator.nextInt(below: n) }
            let frameBytes = [8, 40, 1000, 4096, 1 << 20][generator.nextInt(below: 5)]
            let settings = AllReduceSettings(mode: .exact, frameBytes: frameBytes, window: 1 + generator.nextInt(below: 4))
            let results = try #require(outcomes(reduceOnRing(reference, worldSize: n, settings: settings, assignment: assignment)))
            for (rank, outcome) in results.enumerated() {
                let difference = firstBitDifference(outcome.values ?? [], single)
                #expect(difference == nil, "rank \(rank), world size \(n), frames of \(frameBytes) bytes, assignment \(assignment)")
            }
        }
    }

    /// Above 64 micro-batches the sums travel as 64-bit integers: the same property there.
    @Test func exactWithWideSumsIsBitwiseIdenticalForAnyRingAndAssignment() throws {
        let reference = ReduceReference.synthetic(count: 1501, microBatches: 70, seed: 7)
        #expect(ExactBlockCodec(totalMicroBatches: 70).sumBytes == 8)
        let single = try #require(outcomes(reduceOnRing(reference, worldSize: 1, settings: AllReduceSettings(mode: .exact)))?[0].values)
        #expect(reference.firstViolation(of: single, mode: .exact, worldSize: 1) == nil)
        var generator = SplitMix64(seed: 77)
        for trial in 0..<8 {
            let n = 1 + trial
            let assignment = (0..<70).map { _ in generator.nextInt(below: n) }
            let settings = AllReduceSettings(mode: .exact, frameBytes: [40, 1000, 4096][trial % 3], window: 1 + trial % 4)
            let results = try #require(outcomes(reduceOnRing(reference, worldSize: n, settings: settings, assignment: assignment)))
            for (rank, outcome) in results.enumerated() {
                #expect(firstBitDifference(outcome.values ?? [], single) == nil, "rank \(rank), world size \(n)")
            }
        }
    }

    /// Several default-sized (1 MiB) frames per chunk, with the window sliding across them.
    @Test func exactIsBitwiseIdenticalWithDefaultFramesOnALargerVector() throws {
        let count = (1 << 20) + 13
        let reference = ReduceReference.synthetic(count: count, microBatches: 5, seed: 31)
        let single = try #require(outcomes(reduceOnRing(reference, worldSize: 1, settings: AllReduceSettings()))?[0].values)
        for (n, assignment) in [(2, [1, 0, 1, 1, 0]), (3, [2, 2, 0, 1, 0])] {
            let results = try #require(outcomes(reduceOnRing(reference, worldSize: n, settings: AllReduceSettings(), assignment: assignment)))
            for outcome in results { #expect(firstBitDifference(outcome.values ?? [], single) == nil, "world size \(n)") }
        }
    }

    /// Subnormals, negative zeros, values near float's limits and tiny values sharing a block with
    /// large ones: still within the bound, still the same bits for every ring.
    @Test func exactHandlesExtremeValues() throws {
        let specials: [Float] = [
            .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, -0.0, 0,
            .greatestFiniteMagnitude / 8, -.greatestFiniteMagnitude / 8, 1e-30, 3, -1e20, 1e-45, 0.1,
        ]
        let batches = (0..<6).map { m in (0..<700).map { i in specials[(i * 7 + m * 5) % specials.count] * (m % 2 == 0 ? 1 : -0.75) } }
        let reference = ReduceReference(microBatches: batches, count: 700)
        let single = try #require(outcomes(reduceOnRing(reference, worldSize: 1, settings: AllReduceSettings()))?[0].values)
        #expect(reference.firstViolation(of: single, mode: .exact, worldSize: 1) == nil)
        for n in [2, 5, 7] {
            let results = try #require(outcomes(reduceOnRing(reference, worldSize: n, settings: AllReduceSettings(frameBytes: 96))))
            for outcome in results { #expect(firstBitDifference(outcome.values ?? [], single) == nil, "world size \(n)") }
        }
    }

    @Test func fp16OverflowOnOneMemberIsReportedByAll() {
        var reference = ReduceReference.synthetic(count: 3000, microBatches: 6, seed: 1)
        var batches = reference.microBatches
        batches[4][2500] = 1000  // times a scale of 128 is beyond float16's 65504
        reference = ReduceReference(microBatches: batches, count: 3000)
        let settings = AllReduceSettings(mode: .fp16, frameBytes: 512)
        let results = outcomes(reduceOnRing(reference, worldSize: 3, settings: settings, lossScale: 128))
        #expect(results == [.overflow, .overflow, .overflow])
        // The loss scale backs off and the same step goes through.
        var scale = DynamicLossScale(initialScale: 128)
        scale.record(results![0])
        scale.record(overflow: true)
        #expect(scale.scale == 32)
        let retried = outcomes(reduceOnRing(reference, worldSize: 3, settings: settings, lossScale: scale.scale))
        #expect(retried?[0].values.flatMap { reference.firstViolation(of: $0, mode: .fp16, worldSize: 3, lossScale: 32) } == nil)
        #expect(retried?.allSatisfy { $0 != .overflow } == true)
    }

    @Test func fp16OverflowThatOnlyThePartialSumsReachIsReportedByAll() {
        let batches = (0..<4).map { _ in [Float](repeating: 30_000, count: 64) }
        let reference = ReduceReference(microBatches: batches, count: 64)
        let results = outcomes(reduceOnRing(reference, worldSize: 4, settings: AllReduceSettings(mode: .fp16)))
        #expect(results == [.overflow, .overflow, .overflow, .overflow])
    }

    @Test(arguments: ReduceMode.allCases)
    func aNonFiniteGradientIsAnOverflowEverywhere(mode: ReduceMode) {
        var batches = ReduceReference.synthetic(count: 700, microBatches: 5, seed: 4).microBatches
        batches[3][650] = mode == .exact ? .nan : .infinity
        let reference = ReduceReference(microBatches: batches, count: 700)
        let results = outcomes(reduceOnRing(reference, worldSize: 4, settings: AllReduceSettings(mode: mode, frameBytes: 64)))
        #expect(results == Array(repeating: .overflow, count: 4))
    }

    @Test func exactResultBeyondFloatRangeIsAnOverflow() {
        let batches = [[Float](repeating: .greatestFiniteMagnitude, count: 9), [Float](repeating: .greatestFiniteMagnitude, count: 9)]
        let results = outcomes(reduceOnRing(ReduceReference(microBatches: batches, count: 9), worldSize: 2, settings: AllReduceSettings()))
        #expect(results == [.overflow, .overflow])
    }

    /// Five steps on the same reducers: the sequence advances, and the reused scratch is
    /// overwritten or cleared (rank 0 has no micro-batch at odd steps).
    @Test func consecutiveCollectivesAdvanceTheSequence() throws {
        let links = InProcessRing.make(worldSize: 3)
        defer { links.forEach { $0.close() } }
        let results = RingThreads.run(3) { rank -> [[Float]?] in
            let reducer = try! RingAllReduce(link: links[rank], settings: AllReduceSettings(frameBytes: 64))
            let sums = (0..<5).map { step -> [Float]? in
                let batches = rank == 0 && step % 2 == 1 ? [] : [[Float](repeating: Float(rank + step), count: 100)]
                return try? reducer.sum(microBatches: batches, count: 100, totalMicroBatches: 3).values
            }
            #expect(reducer.sequence == 5)
            return sums
        }
        let expected: [[Float]?] = (0..<5).map { (step: Int) -> [Float]? in
            let rankZero = step % 2 == 1 ? 0 : step
            let total = Float(rankZero + (1 + step) + (2 + step))
            return [Float](repeating: total, count: 100)
        }
        #expect(results.allSatisfy { $0 == expected })
    }
}

/// The first element whose bits differ, described; nil if the vectors are bitwise equal.
func firstBitDifference(_ a: [Float], _ b: [Float]) -> String? {
    guard a.count == b.count else { return "\(a.count) elements vs \(b.count)" }
    guard let i = a.indices.first(where: { a[$0].bitPattern != b[$0].bitPattern }) else { return nil }
    return "element \(i): \(a[i]) vs \(b[i])"
}
