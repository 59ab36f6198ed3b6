import Testing
@testable import Training
import Coordination
import Core

@Suite struct StepPlanTests {
    @Test func everySampleOfADataEpochAppearsExactlyOnce() {
        var plan = StepPlan(sampleCount: 10, globalBatch: 4, microBatch: 2, seed: 7)
        // Steps 1...5 cover stream positions 0..<20: two whole data epochs.
        var stream: [Int] = []
        for ordinal in 1...5 { for j in 0..<plan.microBatchesPerStep { stream += plan.microBatch(j, ofStep: Step(ordinal: ordinal)) } }
        #expect(stream[0..<10].sorted() == Array(0..<10))
        #expect(stream[10..<20].sorted() == Array(0..<10))
        #expect(Array(stream[0..<10]) != Array(stream[10..<20]), "each data epoch has its own order")
    }

    @Test func microBatchesDoNotDependOnWhoAsks() {
        var a = StepPlan(sampleCount: 37, globalBatch: 12, microBatch: 3, seed: 1)
        var b = StepPlan(sampleCount: 37, globalBatch: 12, microBatch: 3, seed: 1)
        for step in [10, 1, 5].map(Step.init(ordinal:)) {
            for j in (0..<4).reversed() { #expect(a.microBatch(j, ofStep: step) == b.microBatch(j, ofStep: step)) }
        }
    }

    @Test func ledgerCountsDataEpochsAndPositions() {
        let plan = StepPlan(sampleCount: 10, globalBatch: 4, microBatch: 2, seed: 7)
        #expect(plan.ledger(afterCommitted: 0) == (0, 0))
        #expect(plan.ledger(afterCommitted: 2) == (0, 8))
        #expect(plan.ledger(afterCommitted: 3) == (1, 2))
    }

    @Test func dealingCoversEveryMicroBatchOnce() {
        for members in 1...8 {
            for count in [1, 3, 8, 13] {
                let shares = StepPlan.deal(microBatches: count, members: members)
                #expect(shares.count == members)
                #expect(shares.flatMap { Array($0) } == Array(0..<count))
                #expect(shares.map(\.count).max()! - shares.map(\.count).min()! <= 1)
            }
        }
    }
}
