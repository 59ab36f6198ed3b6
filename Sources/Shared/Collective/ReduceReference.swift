import Core

/// Synthetic micro-batch gradients and the float64 sequential sum they are checked against: the
/// ground truth of the contract suite, the tests and the benchmark.
struct ReduceReference {
    let count: Int
    let microBatches: [[Float]]
    /// Per element: the float64 sum of every micro-batch in id order.
    let float64Sum: [Double]
    /// Per element: the sum of magnitudes.
    let absoluteSum: [Double]
    /// Per block: the exponent field `exact` agrees on.
    let fields: [UInt8]

    init(microBatches: [[Float]], count: Int) {
        self.count = count
        self.microBatches = microBatches
        var sum = [Double](repeating: 0, count: count)
        var absolute = [Double](repeating: 0, count: count)
        var fields = [UInt8](repeating: 0, count: ExactBlockCodec.blockCount(for: count))
        for batch in microBatches {
            for i in 0..<count {
                sum[i] += Double(batch[i])
                absolute[i] += Double(batch[i].magnitude)
            }
            batch.withUnsafeBufferPointer { values in
                fields.withUnsafeMutableBufferPointer { ExactBlockCodec.mergeExponents(of: values, into: $0) }
            }
        }
        self.float64Sum = sum
        self.absoluteSum = absolute
        self.fields = fields
    }

    /// `microBatches` gradients of `count` floats from `seed`: Gaussian values whose scale changes
    /// from block to block over `2^-14 ... 2^maxExponent`, with runs of exact zeros, so that block
    /// exponents differ and small values share blocks with large ones.
    static func synthetic(count: Int, microBatches: Int, seed: UInt64, maxExponent: Int = 3) -> ReduceReference {
        var batches: [[Float]] = []
        for m in 0..<microBatches {
            var generator = SplitMix64(seed: seed, stream: UInt64(m))
            var batch = [Float](repeating: 0, count: count)
            var i = 0
            while i < count {
                let run = 1 + generator.nextInt(below: 300)
                let exponent = generator.nextInt(below: maxExponent + 15) - 14
                let zeros = generator.nextInt(below: 10) == 0
                for j in i..<min(i + run, count) where !zeros {
                    batch[j] = Float(generator.nextGaussian() * Double(sign: .plus, exponent: exponent, significand: 1))
                }
                i += run
            }
            batches.append(batch)
        }
        return ReduceReference(microBatches: batches, count: count)
    }

    /// The first element outside `mode`'s documented bound, described; nil if all are inside.
    func firstViolation(of result: [Float], mode: ReduceMode, worldSize: Int, lossScale: Float = 1) -> String? {
        guard result.count == count else { return "result has \(result.count) elements, expected \(count)" }
        let m = microBatches.count
        for i in 0..<count {
            let bound: Double
            switch mode {
            case .exact:
                bound = ReduceErrorBound.exact(sum: result[i], field: fields[i / ExactBlockCodec.blockSize], absoluteSum: absoluteSum[i], microBatches: m)
            case .fp32:
                bound = ReduceErrorBound.fp32(absoluteSum: absoluteSum[i], microBatches: m, worldSize: worldSize)
            case .fp16:
                bound = ReduceErrorBound.fp16(absoluteSum: absoluteSum[i], microBatches: m, worldSize: worldSize, lossScale: lossScale)
            }
            let error = (Double(result[i]) - float64Sum[i]).magnitude
            if !(error <= bound) {
                return "\(mode) element \(i): \(result[i]) vs float64 \(float64Sum[i]), error \(error) exceeds bound \(bound) (world size \(worldSize))"
            }
        }
        return nil
    }

    /// Deals micro-batch `m` to member `assignment[m]`: each member's share, in id order.
    func deal(_ assignment: [Int], worldSize: Int) -> [[[Float]]] {
        var shares = [[[Float]]](repeating: [], count: worldSize)
        for (m, member) in assignment.enumerated() { shares[member].append(microBatches[m]) }
        return shares
    }
}
