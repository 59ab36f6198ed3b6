import Foundation
import Testing
@testable import Tensor

/// The losses against closed-form values and finite differences.
struct LossTests {
    /// Samples are shared out over threads; every sample's loss and gradient keep their bits.
    @Test func lossesAndConcatenationHaveTheSameBitsForAnyThreadCount() {
        let shape = TensorShape(5, 1, 7, 9)
        let logits = GradientCheck.tensor(shape, seed: 111, scale: 4)
        let targets = GradientCheck.random(shape.count, seed: 112).map { abs($0) }
        func bits(_ r: (perSample: [Double], gradient: Tensor)) -> [UInt64] {
            r.perSample.map(\.bitPattern) + r.gradient.storage.map { UInt64($0.bitPattern) }
        }
        let serialBCE = bits(Loss.binaryCrossEntropy(logits: logits, targets: targets, positiveWeight: 3))
        let serialDice = bits(Loss.softDice(logits: logits, targets: targets))
        let other = GradientCheck.tensor(TensorShape(5, 2, 7, 9), seed: 113)
        let joined = ChannelConcat.forward(logits, other)
        for threads in [2, 3] {
            let pool = ComputePool(threads: threads)
            #expect(bits(Loss.binaryCrossEntropy(logits: logits, targets: targets, positiveWeight: 3, pool: pool)) == serialBCE)
            #expect(bits(Loss.softDice(logits: logits, targets: targets, pool: pool)) == serialDice)
            #expect(ChannelConcat.forward(logits, other, pool: pool) == joined)
            let (a, b) = ChannelConcat.backward(outputGradient: joined, firstChannels: 1, pool: pool)
            #expect(a == logits && b == other)
        }
    }

    @Test func binaryCrossEntropyMatchesTheDefinition() {
        let logits = Tensor(shape: TensorShape(1, 1, 1, 4), storage: [0, 2, -3, 100])
        let targets: [Float] = [1, 0, 1, 0]
        let (loss, _) = Loss.binaryCrossEntropy(logits: logits, targets: targets)
        let expected = (log(2.0) + log(1 + exp(2.0)) + log(1 + exp(3.0)) + 100) / 4
        #expect(abs(loss[0] - expected) < 1e-5)
        // Extreme logits stay finite in both directions.
        let extreme = Loss.binaryCrossEntropy(logits: Tensor(shape: TensorShape(1, 1, 1, 2), storage: [-1000, 1000]), targets: [1, 0])
        #expect(extreme.perSample[0].isFinite && abs(extreme.perSample[0] - 1000) < 1e-2)
        #expect(extreme.gradient.storage.allSatisfy { $0.isFinite })
    }

    @Test func positiveWeightScalesOnlyThePositiveTerm() {
        let logits = Tensor(shape: TensorShape(1, 1, 1, 2), storage: [0.5, 0.5])
        let plain = Loss.binaryCrossEntropy(logits: logits, targets: [1, 0]).perSample[0]
        let weighted = Loss.binaryCrossEntropy(logits: logits, targets: [1, 0], positiveWeight: 3).perSample[0]
        let positiveTerm = log(1 + exp(-0.5)) / 2
        #expect(abs((weighted - plain) - 2 * positiveTerm) < 1e-6)
    }

    @Test(arguments: [Float(1), 4])
    func binaryCrossEntropyGradient(positiveWeight: Float) {
        let shape = TensorShape(2, 1, 3, 3)
        let logits = GradientCheck.tensor(shape, seed: 101, scale: 3)
        let targets = GradientCheck.random(shape.count, seed: 102).map { abs($0) }   // soft targets in [0, 1]
        let analytic = Loss.binaryCrossEntropy(logits: logits, targets: targets, positiveWeight: positiveWeight).gradient
        let numeric = GradientCheck.numeric(logits.storage, epsilon: 1e-2) {
            Double(Loss.binaryCrossEntropy(logits: Tensor(shape: shape, storage: $0), targets: targets, positiveWeight: positiveWeight).perSample.reduce(0, +))
        }
        #expect(GradientCheck.relativeError(analytic.storage, numeric) < 2e-3)
    }

    @Test func diceIsZeroForAPerfectMaskAndHasExactGradients() {
        let perfect = Loss.softDice(logits: Tensor(shape: TensorShape(1, 1, 1, 4), storage: [50, 50, -50, -50]), targets: [1, 1, 0, 0])
        #expect(abs(perfect.perSample[0]) < 1e-6)
        let empty = Loss.softDice(logits: Tensor(shape: TensorShape(1, 1, 1, 2), storage: [-50, -50]), targets: [0, 0])
        #expect(abs(empty.perSample[0]) < 1e-6)
        let shape = TensorShape(2, 1, 4, 4)
        let logits = GradientCheck.tensor(shape, seed: 111, scale: 2)
        let targets = GradientCheck.random(shape.count, seed: 112).map { $0 > 0 ? Float(1) : 0 }
        let analytic = Loss.softDice(logits: logits, targets: targets).gradient
        let numeric = GradientCheck.numeric(logits.storage, epsilon: 1e-2) {
            Double(Loss.softDice(logits: Tensor(shape: shape, storage: $0), targets: targets).perSample.reduce(0, +))
        }
        #expect(GradientCheck.relativeError(analytic.storage, numeric) < 2e-3)
    }
}
