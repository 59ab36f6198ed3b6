import Core
import Testing
@testable import Tensor

/// Every non-convolution layer against finite differences, plus the properties each must keep.
struct LayerGradientTests {
    @Test func maxPoolRoutesGradientToTheWinner() {
        // Distinct, well-separated values so that no perturbation changes a winner.
        let shape = TensorShape(2, 3, 5, 6)
        let order = SplitMix64.permutation(count: shape.count, seed: 31)
        let x = Tensor(shape: shape, storage: order.map { Float($0) * 0.1 })
        let (y, argmax) = MaxPool2x2.forward(x)
        #expect(y.shape == TensorShape(2, 3, 2, 3))
        #expect(y[0, 0, 0, 0] == max(x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 1, 1]))
        let r = GradientCheck.random(y.shape.count, seed: 32)
        let dx = MaxPool2x2.backward(outputGradient: Tensor(shape: y.shape, storage: r), argmax: argmax, inputShape: shape)
        let numeric = GradientCheck.numeric(x.storage, epsilon: 1e-2) {
            GradientCheck.weightedSum(MaxPool2x2.forward(Tensor(shape: shape, storage: $0)).output, r)
        }
        #expect(GradientCheck.relativeError(dx.storage, numeric) < 1e-3)
    }

    @Test func upsampleGradientSumsEachBlock() {
        let x = GradientCheck.tensor(TensorShape(2, 2, 3, 5), seed: 41)
        let y = Upsample2x.forward(x)
        #expect(y.shape == TensorShape(2, 2, 6, 10))
        #expect(y[1, 1, 5, 9] == x[1, 1, 2, 4] && y[0, 1, 2, 3] == x[0, 1, 1, 1])
        let r = GradientCheck.random(y.shape.count, seed: 42)
        let dx = Upsample2x.backward(outputGradient: Tensor(shape: y.shape, storage: r))
        let numeric = GradientCheck.numeric(x.storage, epsilon: 1e-2) {
            GradientCheck.weightedSum(Upsample2x.forward(Tensor(shape: x.shape, storage: $0)), r)
        }
        #expect(GradientCheck.relativeError(dx.storage, numeric) < 1e-4)
    }

    @Test func concatSplitsGradientBack() {
        let a = GradientCheck.tensor(TensorShape(2, 2, 3, 4), seed: 51), b = GradientCheck.tensor(TensorShape(2, 3, 3, 4), seed: 52)
        let y = ChannelConcat.forward(a, b)
        #expect(y.shape == TensorShape(2, 5, 3, 4))
        #expect(y[1, 1, 2, 3] == a[1, 1, 2, 3] && y[1, 4, 0, 1] == b[1, 2, 0, 1])
        let dy = GradientCheck.tensor(y.shape, seed: 53)
        let (da, db) = ChannelConcat.backward(outputGradient: dy, firstChannels: 2)
        #expect(da[1, 0, 1, 1] == dy[1, 0, 1, 1] && db[1, 0, 1, 1] == dy[1, 2, 1, 1])
        #expect(ChannelConcat.forward(da, db) == dy)
    }

    @Test func reluGradientMatchesFiniteDifferences() {
        // Keep inputs away from the kink at zero.
        let x = Tensor(shape: TensorShape(1, 2, 4, 4), storage: GradientCheck.random(32, seed: 61).map { $0 < 0 ? $0 - 0.1 : $0 + 0.1 })
        let r = GradientCheck.random(32, seed: 62)
        let y = Activation.relu(x)
        #expect(y.storage.allSatisfy { $0 >= 0 } && y.storage.filter { $0 > 0 }.count == x.storage.filter { $0 > 0 }.count)
        let dx = Activation.reluBackward(output: y, outputGradient: Tensor(shape: x.shape, storage: r))
        let numeric = GradientCheck.numeric(x.storage, epsilon: 1e-2) { GradientCheck.weightedSum(Activation.relu(Tensor(shape: x.shape, storage: $0)), r) }
        #expect(GradientCheck.relativeError(dx.storage, numeric) < 1e-4)
    }

    @Test func pointwiseLayersGiveTheSameResultOnAnyPool() {
        // Large enough for several pointwise chunks and many planes.
        let x = GradientCheck.tensor(TensorShape(2, 5, 130, 128), seed: 65)
        let dy = GradientCheck.tensor(x.shape, seed: 66)
        let pool = ComputePool(threads: 3)
        let relu = Activation.relu(x, pool: pool)
        #expect(relu == Activation.relu(x))
        #expect(Activation.reluBackward(output: relu, outputGradient: dy, pool: pool) == Activation.reluBackward(output: relu, outputGradient: dy))
        let (pooled, argmax) = MaxPool2x2.forward(x, pool: pool)
        #expect(pooled == MaxPool2x2.forward(x).output && argmax == MaxPool2x2.forward(x).argmax)
        let dPooled = GradientCheck.tensor(pooled.shape, seed: 67)
        #expect(MaxPool2x2.backward(outputGradient: dPooled, argmax: argmax, inputShape: x.shape, pool: pool)
                == MaxPool2x2.backward(outputGradient: dPooled, argmax: argmax, inputShape: x.shape))
        #expect(Upsample2x.forward(x, pool: pool) == Upsample2x.forward(x))
        #expect(Upsample2x.backward(outputGradient: x, pool: pool) == Upsample2x.backward(outputGradient: x))
    }

    @Test func sigmoidIsStableAndDifferentiable() {
        #expect(Activation.sigmoid(Float(-200)) == 0 && Activation.sigmoid(Float(200)) == 1)
        #expect(Activation.sigmoid(Float(0)) == 0.5)
        let x = GradientCheck.tensor(TensorShape(1, 1, 5, 5), seed: 71, scale: 4)
        let r = GradientCheck.random(25, seed: 72)
        let y = Activation.sigmoid(x)
        let dx = Activation.sigmoidBackward(output: y, outputGradient: Tensor(shape: x.shape, storage: r))
        let numeric = GradientCheck.numeric(x.storage, epsilon: 1e-2) { GradientCheck.weightedSum(Activation.sigmoid(Tensor(shape: x.shape, storage: $0)), r) }
        #expect(GradientCheck.relativeError(dx.storage, numeric) < 1e-3)
    }

    @Test func groupNormNormalisesEachSampleGroupAndHasExactGradients() {
        let norm = GroupNorm(channels: 6, groups: 3)
        let shape = TensorShape(2, 6, 3, 4)
        let x = Tensor(shape: shape, storage: GradientCheck.random(shape.count, seed: 81, scale: 3).map { $0 + 2 })
        let gamma = GradientCheck.random(6, seed: 82).map { $0 + 1.5 }, beta = GradientCheck.random(6, seed: 83)
        func run(_ x: Tensor, _ gamma: [Float], _ beta: [Float]) -> (output: Tensor, saved: GroupNorm.Saved) {
            gamma.withUnsafeBufferPointer { g in beta.withUnsafeBufferPointer { b in norm.forward(x, gamma: g, beta: b) } }
        }
        let (_, saved) = run(x, gamma, beta)
        // Each (sample, group) of the normalised input has mean 0 and variance 1.
        let perGroup = 2 * 12
        for g in 0..<4 {
            let slice = saved.normalized.storage[(g * perGroup)..<((g + 1) * perGroup)].map(Double.init)
            let mean = slice.reduce(0, +) / Double(perGroup)
            let variance = slice.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(perGroup)
            #expect(abs(mean) < 1e-5 && abs(variance - 1) < 1e-3, "group \(g)")
        }
        let r = GradientCheck.random(shape.count, seed: 84)
        var dGamma = [Float](repeating: 0, count: 6), dBeta = [Float](repeating: 0, count: 6)
        let dx = gamma.withUnsafeBufferPointer { g in
            dGamma.withUnsafeMutableBufferPointer { dg in
                dBeta.withUnsafeMutableBufferPointer { db in
                    norm.backward(outputGradient: Tensor(shape: shape, storage: r), saved: saved, gamma: g, gammaGradient: dg, betaGradient: db)
                }
            }
        }
        let numericX = GradientCheck.numeric(x.storage, epsilon: 1e-2) { GradientCheck.weightedSum(run(Tensor(shape: shape, storage: $0), gamma, beta).output, r) }
        let numericGamma = GradientCheck.numeric(gamma, epsilon: 1e-2) { GradientCheck.weightedSum(run(x, $0, beta).output, r) }
        let numericBeta = GradientCheck.numeric(beta, epsilon: 1e-2) { GradientCheck.weightedSum(run(x, gamma, $0).output, r) }
        #expect(GradientCheck.relativeError(dx.storage, numericX) < 5e-3)
        #expect(GradientCheck.relativeError(dGamma, numericGamma) < 1e-3)
        #expect(GradientCheck.relativeError(dBeta, numericBeta) < 1e-3)
    }

    @Test func groupNormSameBitsForAnyThreadCount() {
        let norm = GroupNorm(channels: 8, groups: 4)
        let shape = TensorShape(3, 8, 5, 7)
        let x = GradientCheck.tensor(shape, seed: 95, scale: 2), dy = GradientCheck.tensor(shape, seed: 96)
        let gamma = GradientCheck.random(8, seed: 97), beta = GradientCheck.random(8, seed: 98)
        func run(threads: Int) -> [UInt32] {
            let pool = ComputePool(threads: threads)
            var dGamma = [Float](repeating: 0, count: 8), dBeta = dGamma
            let (y, dx) = gamma.withUnsafeBufferPointer { g in
                beta.withUnsafeBufferPointer { b in
                    dGamma.withUnsafeMutableBufferPointer { dg in
                        dBeta.withUnsafeMutableBufferPointer { db in
                            let (y, saved) = norm.forward(x, gamma: g, beta: b, pool: pool)
                            return (y, norm.backward(outputGradient: dy, saved: saved, gamma: g, gammaGradient: dg, betaGradient: db, pool: pool))
                        }
                    }
                }
            }
            return (y.storage + dx.storage + dGamma + dBeta).map(\.bitPattern)
        }
        let one = run(threads: 1)
        #expect(run(threads: 2) == one && run(threads: 3) == one)
    }

    @Test func groupNormDoesNotMixSamples() {
        let norm = GroupNorm(channels: 4, groups: 2)
        let a = GradientCheck.tensor(TensorShape(1, 4, 3, 3), seed: 91), b = GradientCheck.tensor(TensorShape(1, 4, 3, 3), seed: 92)
        let both = Tensor(shape: TensorShape(2, 4, 3, 3), storage: a.storage + b.storage)
        let ones = [Float](repeating: 1, count: 4), zeros = [Float](repeating: 0, count: 4)
        ones.withUnsafeBufferPointer { g in
            zeros.withUnsafeBufferPointer { z in
                let alone = norm.forward(a, gamma: g, beta: z).output.storage
                let batched = norm.forward(both, gamma: g, beta: z).output.storage
                #expect(Array(batched[0..<36]).map(\.bitPattern) == alone.map(\.bitPattern))
            }
        }
    }
}
