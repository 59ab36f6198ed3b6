/// Group normalisation: channels are split into `groups` groups and each (sample, group) is
/// normalised to zero mean and unit variance, then scaled and shifted per channel.
///
/// Statistics never mix samples, so a sample's output does not depend on which micro-batch it is
/// in: a requirement for results that do not depend on how a global batch is dealt out. Sums are
/// taken in Double, in index order.
public struct GroupNorm: Hashable, Sendable {
    public var channels: Int
    public var groups: Int
    public var epsilon: Float

    public init(channels: Int, groups: Int, epsilon: Float = 1e-5) {
        precondition(groups > 0 && channels % groups == 0, "group norm: \(channels) channels do not split into \(groups) groups")
        self.channels = channels
        self.groups = groups
        self.epsilon = epsilon
    }

    /// What the backward pass needs: the normalised input and each group's reciprocal deviation.
    public struct Saved: Sendable {
        public var normalized: Tensor
        public var inverseDeviation: [Float]
    }

    /// - Parameters: `gamma` and `beta`, one per channel.
    public func forward(_ x: Tensor, gamma: UnsafeBufferPointer<Float>, beta: UnsafeBufferPointer<Float>) -> (output: Tensor, saved: Saved) {
        precondition(x.shape.channels == channels, "group norm expects \(channels) channels, got \(x.shape)")
        precondition(gamma.count == channels && beta.count == channels, "group norm needs \(channels) scales and shifts")
        let perGroup = channels / groups * x.shape.plane, plane = x.shape.plane
        var normalized = Tensor(zeros: x.shape), output = Tensor(zeros: x.shape)
        var inverse = [Float](repeating: 0, count: x.shape.batch * groups)
        x.storage.withUnsafeBufferPointer { x in
            normalized.storage.withUnsafeMutableBufferPointer { xhat in
                output.storage.withUnsafeMutableBufferPointer { y in
                    for g in 0..<(x.count / perGroup) {
                        let start = g * perGroup
                        var sum = 0.0
                        for i in start..<(start + perGroup) { sum += Double(x[i]) }
                        let mean = sum / Double(perGroup)
                        var squares = 0.0
                        for i in start..<(start + perGroup) { let d = Double(x[i]) - mean; squares += d * d }
                        let rstd = Float(1 / (squares / Double(perGroup) + Double(epsilon)).squareRoot())
                        inverse[g] = rstd
                        let m = Float(mean)
                        for i in start..<(start + perGroup) {
                            let c = (i / plane) % channels
                            xhat[i] = (x[i] - m) * rstd
                            y[i] = xhat[i] * gamma[c] + beta[c]
                        }
                    }
                }
            }
        }
        return (output, Saved(normalized: normalized, inverseDeviation: inverse))
    }

    /// Adds the scale and shift gradients and returns the input gradient:
    /// `dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))` per group.
    public func backward(outputGradient: Tensor, saved: Saved, gamma: UnsafeBufferPointer<Float>,
                         gammaGradient: UnsafeMutableBufferPointer<Float>, betaGradient: UnsafeMutableBufferPointer<Float>) -> Tensor {
        let shape = saved.normalized.shape
        precondition(outputGradient.shape == shape, "group norm gradient \(outputGradient.shape) does not match \(shape)")
        let plane = shape.plane, perGroup = channels / groups * plane
        var dx = Tensor(zeros: shape)
        outputGradient.storage.withUnsafeBufferPointer { dy in
            saved.normalized.storage.withUnsafeBufferPointer { xhat in
                dx.storage.withUnsafeMutableBufferPointer { dx in
                    for n in 0..<shape.batch {
                        for c in 0..<channels {
                            let start = (n * channels + c) * plane
                            var dg = 0.0, db = 0.0
                            for i in start..<(start + plane) { dg += Double(dy[i] * xhat[i]); db += Double(dy[i]) }
                            gammaGradient[c] += Float(dg)
                            betaGradient[c] += Float(db)
                        }
                    }
                    for g in 0..<(dy.count / perGroup) {
                        let start = g * perGroup
                        var sumD = 0.0, sumDX = 0.0
                        for i in start..<(start + perGroup) {
                            let d = Double(dy[i] * gamma[(i / plane) % channels])
                            sumD += d
                            sumDX += d * Double(xhat[i])
                        }
                        let meanD = Float(sumD / Double(perGroup)), meanDX = Float(sumDX / Double(perGroup))
                        let rstd = saved.inverseDeviation[g]
                        for i in start..<(start + perGroup) {
                            let d = dy[i] * gamma[(i / plane) % channels]
                            dx[i] = rstd * (d - meanD - xhat[i] * meanDX)
                        }
                    }
                }
            }
        }
        return dx
    }
}
