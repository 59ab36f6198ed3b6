/// The elementwise update loops, 16 lanes at a time.
///
/// The last partial block is loaded into zero-padded lanes and run through the same vector code,
/// so an element's bits never depend on whether it fell in a full block or the tail, and so not on
/// the buffer's length or offset. Lanes never interact: no reduction happens here.
enum UpdateKernels {
    typealias Lanes = SIMD16<Float>
    static let width = Lanes.scalarCount

    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>, _ valid: Int) -> Lanes {
        if valid == width { return UnsafeRawPointer(pointer).loadUnaligned(as: Lanes.self) }
        var lanes = Lanes()
        for lane in 0..<valid { lanes[lane] = pointer[lane] }
        return lanes
    }

    @inline(__always)
    static func store(_ lanes: Lanes, _ pointer: UnsafeMutablePointer<Float>, _ valid: Int) {
        if valid == width { return UnsafeMutableRawPointer(pointer).storeBytes(of: lanes, as: Lanes.self) }
        for lane in 0..<valid { pointer[lane] = lanes[lane] }
    }

    /// Calls `block(offset, valid)` for every full block with `valid == width` (a constant the
    /// compiler folds into the loads and stores), then once for the padded tail, if any.
    @inline(__always)
    static func forEachBlock(_ count: Int, _ block: (Int, Int) -> Void) {
        let full = count - count % width
        var offset = 0
        while offset < full {
            block(offset, width)
            offset += width
        }
        if offset < count { block(offset, count - offset) }
    }

    /// p -= rate * (scale * g + decay * p)
    static func sgd(gradient: UnsafePointer<Float>, parameters: UnsafeMutablePointer<Float>, count: Int,
                    _ c: StepConstants) {
        let scale = Lanes(repeating: c.gradientScale), decay = Lanes(repeating: c.weightDecay)
        let negativeRate = Lanes(repeating: -c.rate)
        forEachBlock(count) { i, n in
            let p = load(parameters + i, n)
            let g = (load(gradient + i, n) * scale).addingProduct(decay, p)
            store(p.addingProduct(negativeRate, g), parameters + i, n)
        }
    }

    /// u = momentum * u + (scale * g + decay * p); p -= rate * u
    static func momentum(gradient: UnsafePointer<Float>, parameters: UnsafeMutablePointer<Float>,
                         velocity: UnsafeMutablePointer<Float>, count: Int, _ c: StepConstants) {
        let scale = Lanes(repeating: c.gradientScale), decay = Lanes(repeating: c.weightDecay)
        let mu = Lanes(repeating: c.momentum), negativeRate = Lanes(repeating: -c.rate)
        forEachBlock(count) { i, n in
            let p = load(parameters + i, n)
            let g = (load(gradient + i, n) * scale).addingProduct(decay, p)
            let u = g.addingProduct(mu, load(velocity + i, n))
            store(u, velocity + i, n)
            store(p.addingProduct(negativeRate, u), parameters + i, n)
        }
    }

    /// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    /// p = keep * p - stepSize * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    static func adam(gradient: UnsafePointer<Float>, parameters: UnsafeMutablePointer<Float>,
                     m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, _ c: StepConstants) {
        let scale = Lanes(repeating: c.gradientScale)
        let beta1 = Lanes(repeating: c.momentum), oneMinusBeta1 = Lanes(repeating: c.oneMinusBeta1)
        let beta2 = Lanes(repeating: c.beta2), oneMinusBeta2 = Lanes(repeating: c.oneMinusBeta2)
        let negativeStep = Lanes(repeating: -c.stepSize), root = Lanes(repeating: c.inverseRootCorrection2)
        let epsilon = Lanes(repeating: c.epsilon), keep = Lanes(repeating: c.keep)
        forEachBlock(count) { i, n in
            let g = load(gradient + i, n) * scale
            let first = (oneMinusBeta1 * g).addingProduct(beta1, load(m + i, n))
            let second = (oneMinusBeta2 * g * g).addingProduct(beta2, load(v + i, n))
            let denominator = epsilon.addingProduct(second.squareRoot(), root)
            let p = (load(parameters + i, n) * keep).addingProduct(negativeStep, first / denominator)
            store(first, m + i, n)
            store(second, v + i, n)
            store(p, parameters + i, n)
        }
    }
}
