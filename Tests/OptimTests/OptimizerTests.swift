import Core
import Testing
@testable import Optim

/// Runs `steps` updates with a gradient from `gradient(step, parameters)` and returns the
/// parameters after each.
func trajectory(_ optimizer: inout Optimizer, start: [Float], steps: Int,
                gradient: (Int, [Float]) -> [Float]) -> [[Float]] {
    var parameters = start
    var history: [[Float]] = []
    for step in 0..<steps {
        optimizer.apply(gradient: gradient(step, parameters), to: &parameters, step: Step(index: step))
        history.append(parameters)
    }
    return history
}

func close(_ a: [Float], _ b: [Double], tolerance: Double = 1e-6) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs(Double($0) - $1) <= tolerance * max(1, abs($1)) }
}

@Suite struct OptimizerTests {
    @Test func sgdTakesPlainGradientSteps() throws {
        var sgd = try Optimizer(kind: .sgd, learningRate: 0.1, parameterCount: 2)
        let history = trajectory(&sgd, start: [1, -2], steps: 2) { _, _ in [0.5, 0.25] }
        #expect(close(history[0], [0.95, -2.025]))
        #expect(close(history[1], [0.9, -2.05]))
        #expect(sgd.state.isEmpty)
    }

    @Test func sgdWeightDecayIsAnL2Term() throws {
        var sgd = try Optimizer(kind: .sgd, learningRate: 0.1, weightDecay: 0.1, parameterCount: 1)
        let history = trajectory(&sgd, start: [1], steps: 2) { _, _ in [0] }
        #expect(close(history[0], [0.99]))
        #expect(close(history[1], [0.9801]))
    }

    @Test func gradientScaleTurnsASumIntoAMean() throws {
        var sgd = try Optimizer(kind: .sgd, learningRate: 0.5, parameterCount: 3)
        var parameters: [Float] = [1, 1, 1]
        sgd.apply(gradient: [4, 8, -4], to: &parameters, step: .first, gradientScale: 0.25)
        #expect(parameters == [0.5, 0, 1.5])
    }

    @Test func momentumAccumulatesVelocity() throws {
        var heavy = try Optimizer(kind: .momentum, learningRate: 0.1, momentum: 0.9, parameterCount: 1)
        let history = trajectory(&heavy, start: [1], steps: 3) { _, _ in [1] }
        #expect(close(history.map { $0[0] }, [0.9, 0.71, 0.439]))
        #expect(close(heavy.state["momentum.velocity"] ?? [], [2.71]))
    }

    @Test func adamMatchesTheTextbookWithBiasCorrection() throws {
        var adam = try Optimizer(kind: .adam, learningRate: 0.1, momentum: 0.9, parameterCount: 1)
        let gradients: [Float] = [0.5, -1, 0.25]
        let history = trajectory(&adam, start: [1], steps: 3) { step, _ in [gradients[step]] }
        // Computed in Double: m, v decayed averages; m / (1 - 0.9^t), v / (1 - 0.999^t).
        #expect(close(history.map { $0[0] }, [0.900000002, 0.9366103542405654, 0.9502794203389762]))
        #expect(close(adam.state["adam.m"] ?? [], [0.9 * (0.9 * 0.05 - 0.1) + 0.025]))
    }

    @Test func adamFirstStepMovesByTheLearningRateWhateverTheGradientSize() throws {
        var adam = try Optimizer(kind: .adam, learningRate: 0.01, parameterCount: 3)
        var parameters: [Float] = [0, 0, 0]
        adam.apply(gradient: [1e-3, -50, 7], to: &parameters, step: .first)
        #expect(close(parameters, [-0.01, 0.01, -0.01], tolerance: 1e-5))
    }

    @Test func adamWeightDecayIsDecoupled() throws {
        var adam = try Optimizer(kind: .adam, learningRate: 0.1, weightDecay: 0.5, parameterCount: 2)
        var parameters: [Float] = [1, -4]
        adam.apply(gradient: [0, 0], to: &parameters, step: .first)
        // A zero gradient leaves m = v = 0 (no division by zero, thanks to epsilon); the decay
        // alone shrinks by 1 - rate * decay.
        #expect(close(parameters, [0.95, -3.8]))
    }

    @Test func adamConvergesOnAQuadratic() throws {
        var generator = SplitMix64(seed: 7)
        let count = 37
        let curvature = (0..<count).map { _ in 0.5 + 4.5 * generator.nextUnitFloat() }
        let target = (0..<count).map { _ in 4 * generator.nextUnitFloat() - 2 }
        let settings = OptimizerSettings(kind: .adam, schedule: .cosine(peak: 0.1, warmupSteps: 10, totalSteps: 1500))
        var adam = try Optimizer(settings: settings, parameterCount: count)
        let history = trajectory(&adam, start: [Float](repeating: 0, count: count), steps: 1500) { _, p in
            (0..<count).map { curvature[$0] * (p[$0] - target[$0]) }
        }
        let error = zip(history.last!, target).map { abs($0 - $1) }.max()!
        #expect(error < 1e-3)
    }

    @Test func applyIsBitwiseRepeatable() throws {
        for kind in OptimizerKind.allCases {
            let settings = OptimizerSettings(kind: kind, schedule: .cosine(peak: 0.05, warmupSteps: 3, totalSteps: 20),
                                             weightDecay: 0.01)
            var a = try Optimizer(settings: settings, parameterCount: 1003)
            var b = try Optimizer(settings: settings, parameterCount: 1003)
            let start = randomFloats(1003, seed: 1)
            let ha = trajectory(&a, start: start, steps: 12) { step, _ in randomFloats(1003, seed: UInt64(100 + step)) }
            let hb = trajectory(&b, start: start, steps: 12) { step, _ in randomFloats(1003, seed: UInt64(100 + step)) }
            #expect(ha.map(bits) == hb.map(bits), "\(kind)")
            #expect(a.state.mapValues(bits) == b.state.mapValues(bits), "\(kind)")
        }
    }

    @Test func elementResultDoesNotDependOnItsPositionInTheBuffer() throws {
        // The same element lands in a SIMD block in one buffer and in the padded tail in the other.
        for kind in OptimizerKind.allCases {
            let settings = OptimizerSettings(kind: kind, schedule: .constant(0.03), weightDecay: 0.02)
            var whole = try Optimizer(settings: settings, parameterCount: 21)
            var shifted = try Optimizer(settings: settings, parameterCount: 24)
            let start = randomFloats(21, seed: 3)
            let gradients = (0..<5).map { randomFloats(21, seed: UInt64(30 + $0)) }
            let h1 = trajectory(&whole, start: start, steps: 5) { step, _ in gradients[step] }
            let h2 = trajectory(&shifted, start: [9, 9, 9] + start, steps: 5) { step, _ in [1, 2, 3] + gradients[step] }
            #expect(bits(h1.last!) == bits(Array(h2.last!.dropFirst(3))), "\(kind)")
        }
    }

    @Test func invalidSettingsAreRefusedWithTheirValue() {
        #expect(throws: OptimError(.invalidSetting, subject: "learning rate", expected: "a finite number > 0", found: "-1.0")) {
            _ = try Optimizer(kind: .sgd, learningRate: -1, parameterCount: 1)
        }
        #expect(throws: OptimError(.invalidSetting, subject: "momentum", expected: "a number in [0, 1)", found: "1.0")) {
            _ = try Optimizer(kind: .momentum, learningRate: 0.1, momentum: 1, parameterCount: 1)
        }
        #expect(throws: OptimError.self) {
            _ = try Optimizer(kind: .adam, learningRate: 0.1, weightDecay: .nan, parameterCount: 1)
        }
        #expect(throws: OptimError.self) {
            _ = try Optimizer(kind: .adam, learningRate: 0.1, parameterCount: -1)
        }
    }

    @Test func kindsAreTheConfigNames() {
        #expect(OptimizerKind.allCases.map(\.rawValue) == ["sgd", "momentum", "adam"])
    }
}

func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in 2 * generator.nextUnitFloat() - 1 }
}

func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }
