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

    /// - Parameters: `gamma` and `beta`, one per channel; `pool` shares out (sample, group) pairs,
    ///   each normalised entirely inside one task.
    public func forward(_ x: Tensor, gamma: UnsafeBufferPointer<Float>, beta: UnsafeBufferPointer<Float>,
                        pool: ComputePool = .serial) -> (output: Tensor, saved: Saved) {
        precondition(x.shape.channels == channels, "group norm expects \(channels) channels, got \(x.shape)")
        precondition(gamma.count == channels && beta.count == channels, "group norm needs \(channels) scales and shifts")
        let plane = x.shape.plane, perGroup = channels / groups, pairs = x.shape.batch * groups
        let count = Double(perGroup * plane), epsilon = Double(self.epsilon), groups = self.groups
        var normalized = Tensor(uninitialized: x.shape), output = Tensor(uninitialized: x.shape)
        var inverse = [Float](repeating: 0, count: pairs)
        let scales = SharedPointer(gamma.baseAddress!), shifts = SharedPointer(beta.baseAddress!)
        x.storage.withUnsafeBufferPointer { xs in
            normalized.storage.withUnsafeMutableBufferPointer { xhats in
                output.storage.withUnsafeMutableBufferPointer { ys in
                    inverse.withUnsafeMutableBufferPointer { inverses in
                        let x = SharedPointer(xs.baseAddress!), xhat = SharedPointer(xhats.baseAddress!)
                        let y = SharedPointer(ys.baseAddress!), inverse = SharedPointer(inverses.baseAddress!)
                        pool.forEach(pairs) { g in
                            let start = g * perGroup * plane
                            var sum = 0.0
                            for c in 0..<perGroup { sum += Reduce.sum(x + (start + c * plane), plane) }
                            let mean = Float(sum / count)
                            var squares = 0.0
                            for c in 0..<perGroup { squares += Reduce.squaredDeviation(x + (start + c * plane), plane, from: mean) }
                            let rstd = Float(1 / (squares / count + epsilon).squareRoot())
                            inverse[g] = rstd
                            for c in 0..<perGroup {
                                let channel = (g % groups) * perGroup + c, scale = scales[channel], shift = shifts[channel]
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
        }
        return (output, Saved(normalized: normalized, inverseDeviation: inverse))
    }

    /// Adds the scale and shift gradients and returns the input gradient:
    /// `dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))` per group, where
    /// `dxhat = gamma * dy`, so the group sums follow from the per-channel sums of the shift and
    /// scale gradients.
    ///
    /// Tasks are (sample, group) pairs; each writes its per-channel sums to its own slot, and the
    /// slots are added into the parameter gradients afterwards in sample order, so the bits do not
    /// depend on `pool`.
    public func backward(outputGradient: Tensor, saved: Saved, gamma: UnsafeBufferPointer<Float>,
                         gammaGradient: UnsafeMutableBufferPointer<Float>, betaGradient: UnsafeMutableBufferPointer<Float>,
                         pool: ComputePool = .serial) -> Tensor {
        let shape = saved.normalized.shape
        precondition(outputGradient.shape == shape, "group norm gradient \(outputGradient.shape) does not match \(shape)")
        precondition(gammaGradient.count == channels && betaGradient.count == channels, "group norm gradients need \(channels) values")
        let plane = shape.plane, perGroup = channels / groups, groups = self.groups
        let count = Double(perGroup * plane)
        var dx = Tensor(uninitialized: shape)
        // Per (sample, channel): the shift gradient sum(dy) and the scale gradient sum(dy * xhat).
        var shiftSums = [Double](repeating: 0, count: shape.batch * channels), scaleSums = shiftSums
        let scales = SharedPointer(gamma.baseAddress!)
        outputGradient.storage.withUnsafeBufferPointer { dys in
            saved.normalized.storage.withUnsafeBufferPointer { xhats in
                saved.inverseDeviation.withUnsafeBufferPointer { inverses in
                    dx.storage.withUnsafeMutableBufferPointer { dxs in
                        shiftSums.withUnsafeMutableBufferPointer { shiftBuffer in
                            scaleSums.withUnsafeMutableBufferPointer { scaleBuffer in
                                let dy = SharedPointer(dys.baseAddress!), xhat = SharedPointer(xhats.baseAddress!)
                                let dx = SharedPointer(dxs.baseAddress!), inverse = SharedPointer(inverses.baseAddress!)
                                let shifts = SharedPointer(shiftBuffer.baseAddress!), scaled = SharedPointer(scaleBuffer.baseAddress!)
                                pool.forEach(shape.batch * groups) { g in
                                    let start = g * perGroup * plane
                                    var sumD = 0.0, sumDX = 0.0
                                    for c in 0..<perGroup {
                                        let channel = (g % groups) * perGroup + c, base = start + c * plane
                                        let shift = Reduce.sum(dy + base, plane)
                                        let scale = Reduce.dot(dy + base, xhat + base, plane)
                                        shifts[g * perGroup + c] = shift
                                        scaled[g * perGroup + c] = scale
                                        sumD += Double(scales[channel]) * shift
                                        sumDX += Double(scales[channel]) * scale
                                    }
                                    let meanD = Float(sumD / count), meanDX = Float(sumDX / count), rstd = inverse[g]
                                    for c in 0..<perGroup {
                                        let scale = scales[(g % groups) * perGroup + c], base = start + c * plane
                                        for i in base..<(base + plane) {
                                            dx[i] = rstd * (dy[i] * scale - meanD - xhat[i] * meanDX)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for n in 0..<shape.batch {
            for c in 0..<channels {
                betaGradient[c] += Float(shiftSums[n * channels + c])
                gammaGradient[c] += Float(scaleSums[n * channels + c])
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
