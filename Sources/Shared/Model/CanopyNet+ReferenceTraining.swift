import Dataset

extension CanopyNet {
    /// A single-process training loop with Adam: the reference the tests and benchmarks use to show
    /// that the model learns. The cluster trains through Optim and Training instead; this loop
    /// exists so that the model can be judged on its own.
    public struct ReferenceTrainer: Sendable {
        public var learningRate: Float = 3e-3
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var epsilon: Float = 1e-8
        public private(set) var step = 0
        private var firstMoment: [Float]
        private var secondMoment: [Float]

        public init(parameterCount: Int, learningRate: Float = 3e-3) {
            self.learningRate = learningRate
            firstMoment = [Float](repeating: 0, count: parameterCount)
            secondMoment = firstMoment
        }

        /// One Adam step on the mean gradient of `batch`; returns the batch's mean loss.
        @discardableResult
        public mutating func train(_ model: CanopyNet, parameters: inout [Float], batch: [Tile]) -> Float {
            precondition(parameters.count == firstMoment.count,
                         "trainer was made for \(firstMoment.count) parameters, model has \(parameters.count)")
            var gradient = [Float](repeating: 0, count: parameters.count)
            let loss = parameters.withUnsafeBufferPointer { p in
                gradient.withUnsafeMutableBufferPointer { model.accumulateGradient(parameters: p, samples: batch, into: $0) }
            }
            step += 1
            let scale = 1 / Float(batch.count)
            let correction1 = 1 - pow(beta1, Float(step)), correction2 = 1 - pow(beta2, Float(step))
            for i in 0..<parameters.count {
                let g = gradient[i] * scale
                firstMoment[i] = beta1 * firstMoment[i] + (1 - beta1) * g
                secondMoment[i] = beta2 * secondMoment[i] + (1 - beta2) * g * g
                let m = firstMoment[i] / correction1, v = secondMoment[i] / correction2
                parameters[i] -= learningRate * m / (v.squareRoot() + epsilon)
            }
            return loss.sum * scale
        }
    }
}

/// `base^exponent` for the bias corrections, without Foundation.
private func pow(_ base: Float, _ exponent: Float) -> Float {
    var result: Float = 1
    for _ in 0..<Int(exponent) { result *= base }
    return result
}
