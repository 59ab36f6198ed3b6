import Core
import Testing
@testable import Optim

@Suite struct OptimizerStateTests {
    @Test func stateNamesPerKind() throws {
        #expect(try Optimizer(kind: .sgd, learningRate: 0.1, parameterCount: 4).state.isEmpty)
        #expect(try Optimizer(kind: .momentum, learningRate: 0.1, parameterCount: 4).state.keys.sorted() == ["momentum.velocity"])
        let adam = try Optimizer(kind: .adam, learningRate: 0.1, parameterCount: 4)
        #expect(adam.state.keys.sorted() == ["adam.m", "adam.v"])
        #expect(adam.state["adam.v"] == [0, 0, 0, 0])
    }

    @Test func restoredOptimizerContinuesBitForBit() throws {
        for kind in OptimizerKind.allCases {
            let settings = OptimizerSettings(kind: kind, schedule: .cosine(peak: 0.05, warmupSteps: 2, totalSteps: 10))
            let count = 50
            var original = try Optimizer(settings: settings, parameterCount: count)
            var parameters = randomFloats(count, seed: 5)
            for step in 0..<4 { original.apply(gradient: randomFloats(count, seed: UInt64(step)), to: &parameters, step: Step(index: step)) }

            var restored = try Optimizer(settings: settings, parameterCount: count, restoring: original.state)
            var copy = parameters
            for step in 4..<10 {
                let gradient = randomFloats(count, seed: UInt64(step))
                original.apply(gradient: gradient, to: &parameters, step: Step(index: step))
                restored.apply(gradient: gradient, to: &copy, step: Step(index: step))
            }
            #expect(bits(parameters) == bits(copy), "\(kind)")
            #expect(original.state.mapValues(bits) == restored.state.mapValues(bits), "\(kind)")
        }
    }

    @Test func restoringRefusesMismatchedState() throws {
        let adam = OptimizerSettings(kind: .adam, schedule: .constant(0.1))
        let zeros = [Float](repeating: 0, count: 3)
        #expect(throws: OptimError(.missingState, subject: "adam.v", expected: "a tensor of 3 elements", found: "none")) {
            _ = try Optimizer(settings: adam, parameterCount: 3, restoring: ["adam.m": zeros])
        }
        #expect(throws: OptimError(.stateSize, subject: "adam.m", expected: "3 elements", found: "2")) {
            _ = try Optimizer(settings: adam, parameterCount: 3, restoring: ["adam.m": [0, 0], "adam.v": zeros])
        }
        do {
            _ = try Optimizer(settings: adam, parameterCount: 3, restoring: ["momentum.velocity": zeros])
            Issue.record("momentum state was accepted by adam")
        } catch {
            #expect(error.kind == .unexpectedState)
            #expect(error.subject == "momentum.velocity")
        }
        #expect(throws: OptimError(.stateValue, subject: "adam.v", expected: "finite values >= 0", found: "-1.0 at element 1")) {
            _ = try Optimizer(settings: adam, parameterCount: 3, restoring: ["adam.m": zeros, "adam.v": [0, -1, 0]])
        }
        #expect(throws: OptimError.self) {
            _ = try Optimizer(settings: adam, parameterCount: 3, restoring: ["adam.m": [0, .nan, 0], "adam.v": zeros])
        }
    }

    @Test func errorsReadAsSentences() {
        let error = OptimError(.stateSize, subject: "adam.m", expected: "3 elements", found: "2")
        #expect(error.description == "optimizer adam.m: expected 3 elements, found 2 [optim.state-size]")
    }
}
