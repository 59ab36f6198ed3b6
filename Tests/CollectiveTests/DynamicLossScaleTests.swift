import Testing
import Collective

@Suite struct DynamicLossScaleTests {
    @Test func backsOffOnOverflowAndGrowsAfterTheInterval() {
        var scale = DynamicLossScale(initialScale: 1024, growthInterval: 3, minimumScale: 256, maximumScale: 4096)
        let applied = [true, false, false, false].map { scale.record(overflow: $0) }
        #expect(applied == [false, true, true, true])
        #expect(scale.scale == 1024)
        #expect(scale.cleanSteps == 0)
        scale.record(overflow: true)
        #expect(scale.scale == 512)
        scale.record(overflow: false)
        scale.record(overflow: false)
        #expect(scale.scale == 512)
        scale.record(overflow: false)
        #expect(scale.scale == 1024)
        #expect(scale.cleanSteps == 0)
        // An overflow resets the count of clean steps.
        scale.record(overflow: false)
        scale.record(overflow: false)
        scale.record(.overflow)
        #expect(scale.scale == 512 && scale.cleanSteps == 0)
    }

    @Test func staysWithinItsRange() {
        var scale = DynamicLossScale(initialScale: 8, growthInterval: 1, minimumScale: 2, maximumScale: 16)
        for _ in 0..<5 { scale.record(.sum([1])) }
        #expect(scale.scale == 16)
        for _ in 0..<10 { scale.record(overflow: true) }
        #expect(scale.scale == 2)
    }
}
