import Testing
@testable import Collective

@Suite struct RingPlanTests {
    @Test(arguments: [1, 2, 3, 4, 5, 7, 8])
    func chunksPartitionTheVectorEvenly(worldSize: Int) {
        for count in [0, 1, 2, 5, 7, 8, 100, 1001] {
            let plan = RingPlan(worldSize: worldSize, count: count, frameElements: 3)
            var next = 0
            var sizes: [Int] = []
            for c in 0..<worldSize {
                let range = plan.chunk(c)
                #expect(range.lowerBound == next, "chunk \(c) of \(count) over \(worldSize)")
                next = range.upperBound
                sizes.append(range.count)
            }
            #expect(next == count)
            #expect(sizes.max()! - sizes.min()! <= 1)
        }
    }

    @Test func framesCoverEachChunkWithinTheirCapacity() {
        let plan = RingPlan(worldSize: 3, count: 1000, frameElements: 64)
        for c in 0..<3 {
            let chunk = plan.chunk(c)
            var next = chunk.lowerBound
            for f in 0..<plan.frameCount(ofChunk: c) {
                let frame = plan.frame(f, ofChunk: c)
                #expect(frame.lowerBound == next)
                #expect(frame.count >= 1 && frame.count <= 64)
                next = frame.upperBound
            }
            #expect(next == chunk.upperBound)
        }
        #expect(plan.frameCount(ofChunk: 0) == 6)  // 334 elements = 5 * 64 + 14
        #expect(RingPlan(worldSize: 4, count: 2, frameElements: 8).frameCount(ofChunk: 3) == 0)
    }

    @Test func frameBytesRoundDownToWholeElementsButNeverToZero() {
        #expect(RingPlan(worldSize: 2, count: 10, elementBytes: 8, frameBytes: 20).frameElements == 2)
        #expect(RingPlan(worldSize: 2, count: 10, elementBytes: 8, frameBytes: 3).frameElements == 1)
    }

    @Test func eachReceiveMatchesThePreviousRanksSend() {
        for n in 2...8 {
            let plan = RingPlan(worldSize: n, count: 50, frameElements: 4)
            for phase in RingPlan.Phase.allCases {
                for step in 0..<plan.stepsPerPhase {
                    for rank in 0..<n {
                        let previous = plan.transfer(rank: (rank - 1 + n) % n, phase: phase, step: step)
                        #expect(plan.transfer(rank: rank, phase: phase, step: step).receiveChunk == previous.sendChunk)
                    }
                }
            }
        }
    }

    /// Simulates the plan symbolically: which ranks' contributions each rank's copy of each chunk
    /// holds. After reduce-scatter the owned chunk must hold all of them; after all-gather every
    /// rank must hold every chunk complete.
    @Test(arguments: 1...8)
    func reduceScatterThenAllGatherGivesEveryoneEverything(n: Int) {
        let plan = RingPlan(worldSize: n, count: 3 * n + 1, frameElements: 2)
        let everyone = Set(0..<n)
        // held[rank][chunk] = contributors summed into rank's copy of chunk.
        var held = (0..<n).map { rank in (0..<n).map { _ in Set([rank]) } }
        for step in 0..<plan.stepsPerPhase {
            let before = held
            for rank in 0..<n {
                let t = plan.transfer(rank: rank, phase: .reduceScatter, step: step)
                let incoming = before[(rank - 1 + n) % n][t.receiveChunk]
                #expect(incoming.isDisjoint(with: held[rank][t.receiveChunk]), "a contribution would be added twice")
                held[rank][t.receiveChunk].formUnion(incoming)
            }
        }
        for rank in 0..<n { #expect(held[rank][plan.ownedChunk(rank: rank)] == everyone) }
        for step in 0..<plan.stepsPerPhase {
            let before = held
            for rank in 0..<n {
                let t = plan.transfer(rank: rank, phase: .allGather, step: step)
                let incoming = before[(rank - 1 + n) % n][t.receiveChunk]
                #expect(incoming == everyone, "rank \(rank) would store an incomplete chunk at step \(step)")
                held[rank][t.receiveChunk] = incoming
            }
        }
        for rank in 0..<n { #expect(held[rank].allSatisfy { $0 == everyone }) }
    }
}
