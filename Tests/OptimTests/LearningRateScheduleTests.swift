import Core
import Foundation
import Testing
@testable import Optim

/// The rate of the step with this 1-based ordinal.
private func rate(_ schedule: LearningRateSchedule, _ ordinal: Int) -> Double {
    schedule.learningRate(at: Step(ordinal: ordinal))
}

@Suite struct LearningRateScheduleTests {
    @Test func constantIsConstant() {
        let schedule = LearningRateSchedule.constant(0.1)
        #expect([1, 2, 100, 1_000_001].map { rate(schedule, $0) } == [0.1, 0.1, 0.1, 0.1])
    }

    @Test func warmupRampsLinearlyToThePeak() {
        let schedule = LearningRateSchedule.constant(0.4, warmupSteps: 4)
        #expect((1...6).map { rate(schedule, $0) } == [0.1, 0.2, 0.30000000000000004, 0.4, 0.4, 0.4])
    }

    @Test func cosineRunsFromPeakToMinimumAtTheLastStep() {
        let schedule = LearningRateSchedule.cosine(peak: 1, minimum: 0.1, totalSteps: 11)
        #expect(rate(schedule, 1) == 1)
        #expect(abs(rate(schedule, 6) - 0.55) < 1e-15)
        #expect(rate(schedule, 11) == 0.1)
        #expect(rate(schedule, 501) == 0.1)
        let rates = (1...11).map { rate(schedule, $0) }
        #expect(zip(rates, rates.dropFirst()).allSatisfy { $0 > $1 })
    }

    @Test func cosineAfterWarmup() {
        let schedule = LearningRateSchedule.cosine(peak: 2, warmupSteps: 2, totalSteps: 12)
        #expect(rate(schedule, 1) == 1)
        #expect(rate(schedule, 2) == 2)
        #expect(rate(schedule, 3) == 2)
        #expect(abs(rate(schedule, 4) - (1 + cos(Double.pi / 9))) < 1e-14)
        #expect(rate(schedule, 12) == 0)
    }

    @Test func invalidSchedulesAreRefused() {
        #expect(throws: OptimError.self) { try LearningRateSchedule.constant(0).validate() }
        #expect(throws: OptimError.self) { try LearningRateSchedule.constant(0.1, warmupSteps: -1).validate() }
        #expect(throws: OptimError.self) { try LearningRateSchedule.cosine(peak: 0.1, minimum: 0.2, totalSteps: 5).validate() }
        #expect(throws: OptimError.self) { try LearningRateSchedule.cosine(peak: 0.1, totalSteps: 0).validate() }
        #expect(throws: Never.self) { try LearningRateSchedule.cosine(peak: 0.1, minimum: 0.1, totalSteps: 1).validate() }
    }

    @Test func portableCosineAgreesWithTheCLibrary() {
        #expect(PortableMath.cosPi(0) == 1)
        #expect(PortableMath.cosPi(0.5) == 0)
        #expect(PortableMath.cosPi(1) == -1)
        for i in 0...1000 {
            let x = Double(i) / 1000
            #expect(abs(PortableMath.cosPi(x) - cos(Double.pi * x)) < 1e-15, "x = \(x)")
        }
    }

    @Test func portablePowerAgreesWithTheCLibrary() {
        #expect(PortableMath.power(0.9, 0) == 1)
        #expect(PortableMath.power(2, 10) == 1024)
        for exponent in [1, 2, 3, 17, 100, 1000, 123_456] {
            for base in [0.9, 0.999, 0.5] {
                let expected = pow(base, Double(exponent))
                // Each squaring doubles the relative error: about exponent * 2^-53 in all.
                #expect(abs(PortableMath.power(base, exponent) - expected) <= Double(exponent) * 1e-15 * expected,
                        "\(base)^\(exponent)")
            }
        }
    }
}
