/// Group normalisation: channels are split into `groups` groups and each (sample, group) is
/// normalised to zero mean and unit variance, then scaled and shifted per channel.
///
/// Statistics never mix samples, so a sample's output does not depend on which micro-batch it is
/// in: a requirement for results that do not depend on how a global batch is dealt out. Each
/// channel plane is reduced with eight fixed float lanes, and planes are combined in Double in
/// channel order, so the bits do not depend on threads.
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
        let plane = x.shape.plane, perGroup = channels / groups
        let count = Double(perGroup * plane)
        var normalized = Tensor(zeros: x.shape), output = Tensor(zeros: x.shape)
        var inverse = [Float](repeating: 0, count: x.shape.batch * groups)
        x.storage.withUnsafeBufferPointer { x in
            normalized.storage.withUnsafeMutableBufferPointer { xhat in
                output.storage.withUnsafeMutableBufferPointer { y in
                    for g in 0..<(x.count / (perGroup * plane)) {
                        let start = g * perGroup * plane
                        var sum = 0.0
                        for c in 0..<perGroup { sum += Reduce.sum(x.baseAddress! + start + c * plane, plane) }
                        let mean = Float(sum / count)
                        var squares = 0.0
                        for c in 0..<perGroup { squares += Reduce.squaredDeviation(x.baseAddress! + start + c * plane, plane, from: mean) }
                        let rstd = Float(1 / (squares / count + Double(epsilon)).squareRoot())
                        inverse[g] = rstd
                        for c in 0..<perGroup {
                            let channel = (g % groups) * perGroup + c, scale = gamma[channel], shift = beta[channel]
                            let base = start + c * plane
                            for i in base..<(base + plane) {
                                let v = (x[i] - mean) * rstd
                                xhat[i] = v
                                y[i] = v * scale + shift
                            }
                        }
                    }
                }
            }
        }
        return (output, Saved(normalized: normalized, inverseDeviation: inverse))
    }

    /// Adds the scale and shift gradients and returns the input gradient:
    /// `dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))` per group, where
    /// `dxhat = gamma * dy`, so the group sums follow from the per-channel sums of the shift and
    /// scale gradients.
    public func backward(outputGradient: Tensor, saved: Saved, gamma: UnsafeBufferPointer<Float>,
                         gammaGradient: UnsafeMutableBufferPointer<Float>, betaGradient: UnsafeMutableBufferPointer<Float>) -> Tensor {
        let shape = saved.normalized.shape
        precondition(outputGradient.shape == shape, "group norm gradient \(outputGradient.shape) does not match \(shape)")
        let plane = shape.plane, perGroup = channels / groups
        let count = Double(perGroup * plane)
        var dx = Tensor(zeros: shape)
        outputGradient.storage.withUnsafeBufferPointer { dy in
            saved.normalized.storage.withUnsafeBufferPointer { xhat in
                dx.storage.withUnsafeMutableBufferPointer { dx in
                    for g in 0..<(shape.batch * groups) {
                        let start = g * perGroup * plane
                        var sumD = 0.0, sumDX = 0.0
                        for c in 0..<perGroup {
                            let channel = (g % groups) * perGroup + c, base = start + c * plane
                            let shift = Reduce.sum(dy.baseAddress! + base, plane)
                            let scale = Reduce.dot(dy.baseAddress! + base, xhat.baseAddress! + base, plane)
                            betaGradient[channel] += Float(shift)
                            gammaGradient[channel] += Float(scale)
                            sumD += Double(gamma[channel]) * shift
                            sumDX += Double(gamma[channel]) * scale
                        }
                        let meanD = Float(sumD / count), meanDX = Float(sumDX / count)
                        let rstd = saved.inverseDeviation[g]
                        for c in 0..<perGroup {
                            let scale = gamma[(g % groups) * perGroup + c], base = start + c * plane
                            for i in base..<(base + plane) {
                                dx[i] = rstd * (dy[i] * scale - meanD - xhat[i] * meanDX)
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}

/// Reductions with a fixed order: eight float lanes over the run, then the lanes and the tail
/// added in Double. The same inputs give the same bits on every machine and thread count.
enum Reduce {
    @inline(__always) static func sum(_ p: UnsafePointer<Float>, _ count: Int) -> Double {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        return finish(lanes, tail: (i..<count).reduce(0.0) { $0 + Double(p[$1]) })
    }

    @inline(__always) static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Double {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes = lanes.addingProduct(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self),
                                        UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self))
            i += 8
        }
        return finish(lanes, tail: (i..<count).reduce(0.0) { $0 + Double(a[$1]) * Double(b[$1]) })
    }

    @inline(__always) static func squaredDeviation(_ p: UnsafePointer<Float>, _ count: Int, from mean: Float) -> Double {
        var lanes = SIMD8<Float>()
        let m = SIMD8<Float>(repeating: mean)
        var i = 0
        while i + 8 <= count {
            let d = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - m
            lanes = lanes.addingProduct(d, d)
            i += 8
        }
        return finish(lanes, tail: (i..<count).reduce(0.0) { let d = Double(p[$1] - mean); return $0 + d * d })
    }

    @inline(__always) static func finish(_ lanes: SIMD8<Float>, tail: Double) -> Double {
        var total = tail
        for lane in 0..<8 { total += Double(lanes[lane]) }
        return total
    }
}
