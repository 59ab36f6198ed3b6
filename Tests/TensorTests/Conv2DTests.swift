import Testing
@testable import Tensor

/// Convolution against a direct seven-loop reference, its finite-difference gradients, and bitwise
/// thread-count invariance.
struct Conv2DTests {
    static let specs: [Conv2D] = [
        Conv2D(inChannels: 3, outChannels: 5, kernel: 3, stride: 1),
        Conv2D(inChannels: 2, outChannels: 4, kernel: 3, stride: 2),
        Conv2D(inChannels: 3, outChannels: 6, kernel: 1, stride: 1),
        Conv2D(inChannels: 4, outChannels: 3, kernel: 1, stride: 2),
        Conv2D(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, padding: 0),
    ]

    static func naive(_ conv: Conv2D, _ x: Tensor, _ w: [Float], _ b: [Float]) -> [Double] {
        let out = conv.outputShape(x.shape), k = conv.kernel
        var y = [Double](repeating: 0, count: out.count)
        for n in 0..<out.batch {
            for o in 0..<out.channels {
                for oy in 0..<out.height {
                    for ox in 0..<out.width {
                        var sum = Double(b[o])
                        for c in 0..<conv.inChannels {
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let iy = oy * conv.stride - conv.padding + ky, ix = ox * conv.stride - conv.padding + kx
                                    guard iy >= 0, iy < x.shape.height, ix >= 0, ix < x.shape.width else { continue }
                                    sum += Double(w[((o * conv.inChannels + c) * k + ky) * k + kx]) * Double(x[n, c, iy, ix])
                                }
                            }
                        }
                        y[((n * out.channels + o) * out.height + oy) * out.width + ox] = sum
                    }
                }
            }
        }
        return y
    }

    static func inputs(_ conv: Conv2D) -> (x: Tensor, w: [Float], b: [Float]) {
        (GradientCheck.tensor(TensorShape(2, conv.inChannels, 7, 6), seed: 11),
         GradientCheck.random(conv.weightCount, seed: 12), GradientCheck.random(conv.outChannels, seed: 13))
    }

    static func forward(_ conv: Conv2D, _ x: Tensor, _ w: [Float], _ b: [Float], threads: Int = 1) -> Tensor {
        w.withUnsafeBufferPointer { w in
            b.withUnsafeBufferPointer { b in conv.forward(x, weight: w, bias: b, pool: ComputePool(threads: threads)) }
        }
    }

    static func backward(_ conv: Conv2D, _ x: Tensor, _ w: [Float], _ dy: Tensor, threads: Int = 1) -> (dx: Tensor, dw: [Float], db: [Float]) {
        var dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: conv.outChannels)
        let dx = w.withUnsafeBufferPointer { w in
            dw.withUnsafeMutableBufferPointer { dw in
                db.withUnsafeMutableBufferPointer { db in
                    conv.backward(input: x, outputGradient: dy, weight: w, weightGradient: dw, biasGradient: db,
                                  pool: ComputePool(threads: threads))
                }
            }
        }
        return (dx!, dw, db)
    }

    @Test(arguments: specs)
    func forwardMatchesDirectConvolution(_ conv: Conv2D) {
        let (x, w, b) = Self.inputs(conv)
        let y = Self.forward(conv, x, w, b)
        let reference = Self.naive(conv, x, w, b)
        #expect(y.shape == conv.outputShape(x.shape))
        for i in 0..<reference.count { #expect(abs(Double(y.storage[i]) - reference[i]) < 1e-4, "output \(i)") }
    }

    @Test(arguments: specs)
    func gradientsMatchFiniteDifferences(_ conv: Conv2D) {
        let (x, w, b) = Self.inputs(conv)
        let r = GradientCheck.random(conv.outputShape(x.shape).count, seed: 14)
        let dy = Tensor(shape: conv.outputShape(x.shape), storage: r)
        let analytic = Self.backward(conv, x, w, dy)
        // The layer is linear in each argument, so differences are exact up to rounding.
        let numericX = GradientCheck.numeric(x.storage, epsilon: 1e-2) {
            GradientCheck.weightedSum(Self.forward(conv, Tensor(shape: x.shape, storage: $0), w, b), r)
        }
        let numericW = GradientCheck.numeric(w, epsilon: 1e-2) { GradientCheck.weightedSum(Self.forward(conv, x, $0, b), r) }
        let numericB = GradientCheck.numeric(b, epsilon: 1e-2) { GradientCheck.weightedSum(Self.forward(conv, x, w, $0), r) }
        #expect(GradientCheck.relativeError(analytic.dx.storage, numericX) < 1e-3)
        #expect(GradientCheck.relativeError(analytic.dw, numericW) < 1e-3)
        #expect(GradientCheck.relativeError(analytic.db, numericB) < 1e-3)
    }

    /// On images large enough that the input gradient is folded in several bands of output rows,
    /// the backward pass is still the exact adjoint of the forward: <conv(x), dy> = <x, dx>.
    @Test(arguments: [1, 2])
    func inputGradientIsTheAdjointOnLargeImages(stride: Int) {
        let conv = Conv2D(inChannels: 2, outChannels: 3, kernel: 3, stride: stride)
        let x = GradientCheck.tensor(TensorShape(1, 2, 100, 96), seed: 31)
        let w = GradientCheck.random(conv.weightCount, seed: 32), zero = [Float](repeating: 0, count: 3)
        let outShape = conv.outputShape(x.shape)
        #expect(conv.bandRows(outShape) < outShape.height, "the image must span several bands")
        let dy = GradientCheck.tensor(outShape, seed: 33)
        let y = Self.forward(conv, x, w, zero)
        let dx = Self.backward(conv, x, w, dy).dx
        let left = GradientCheck.weightedSum(y, dy.storage), right = GradientCheck.weightedSum(dx, x.storage)
        #expect(abs(left - right) <= 1e-4 * max(1, abs(left)), "<conv x, dy> = \(left) but <x, dx> = \(right)")
    }

    @Test func sameBitsForAnyThreadCount() {
        let conv = Conv2D(inChannels: 12, outChannels: 20, kernel: 3, stride: 1)
        let x = GradientCheck.tensor(TensorShape(2, 12, 33, 31), seed: 21)
        let w = GradientCheck.random(conv.weightCount, seed: 22), b = GradientCheck.random(20, seed: 23)
        let dy = GradientCheck.tensor(conv.outputShape(x.shape), seed: 24)
        let y1 = Self.forward(conv, x, w, b, threads: 1), y2 = Self.forward(conv, x, w, b, threads: 2)
        let g1 = Self.backward(conv, x, w, dy, threads: 1), g2 = Self.backward(conv, x, w, dy, threads: 2)
        #expect(y1.storage.map(\.bitPattern) == y2.storage.map(\.bitPattern))
        #expect(g1.dx.storage.map(\.bitPattern) == g2.dx.storage.map(\.bitPattern))
        #expect(g1.dw.map(\.bitPattern) == g2.dw.map(\.bitPattern))
        #expect(g1.db.map(\.bitPattern) == g2.db.map(\.bitPattern))
    }
}

/// The direct 3x3 kernel against the patch-matrix GEMM and direct references, on shapes that
/// exercise partial channel blocks, row tails of every length and several row bands.
struct DirectConv3x3Tests {
    /// (in, out, height, width): out 7 leaves a partial block of 3; widths 29 and 53 end in a
    /// 5-pixel tail after full 24-pixel tiles; width 3 has no full tile; height 19 spans 3 bands.
    static let shapes: [(Int, Int, Int, Int)] = [(5, 7, 19, 29), (3, 8, 9, 53), (8, 4, 4, 3), (1, 1, 1, 1), (13, 12, 11, 24)]

    static func naiveInputGradient(_ conv: Conv2D, inputShape: TensorShape, _ w: [Float], _ dy: Tensor) -> [Double] {
        var dx = [Double](repeating: 0, count: inputShape.count)
        let out = dy.shape, k = conv.kernel
        for n in 0..<out.batch {
            for o in 0..<out.channels {
                for oy in 0..<out.height {
                    for ox in 0..<out.width {
                        for c in 0..<conv.inChannels {
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let iy = oy * conv.stride - conv.padding + ky, ix = ox * conv.stride - conv.padding + kx
                                    guard iy >= 0, iy < inputShape.height, ix >= 0, ix < inputShape.width else { continue }
                                    dx[((n * inputShape.channels + c) * inputShape.height + iy) * inputShape.width + ix] +=
                                        Double(w[((o * conv.inChannels + c) * k + ky) * k + kx]) * Double(dy[n, o, oy, ox])
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    static func data(_ shape: (Int, Int, Int, Int)) -> (Conv2D, Tensor, [Float], Tensor) {
        let conv = Conv2D(inChannels: shape.0, outChannels: shape.1, kernel: 3)
        let x = GradientCheck.tensor(TensorShape(2, shape.0, shape.2, shape.3), seed: 41)
        let w = GradientCheck.random(conv.weightCount, seed: 42)
        let dy = GradientCheck.tensor(conv.outputShape(x.shape), seed: 43)
        return (conv, x, w, dy)
    }

    @Test func appliesOnlyToThreeByThreeStrideOnePaddingOne() {
        #expect(Conv2D(inChannels: 2, outChannels: 3, kernel: 3).usesDirectKernel(.automatic))
        #expect(!Conv2D(inChannels: 2, outChannels: 3, kernel: 3).usesDirectKernel(.patches))
        #expect(!Conv2D(inChannels: 2, outChannels: 3, kernel: 3, stride: 2).usesDirectKernel(.automatic))
        #expect(!Conv2D(inChannels: 2, outChannels: 3, kernel: 3, padding: 0).usesDirectKernel(.automatic))
        #expect(!Conv2D(inChannels: 2, outChannels: 3, kernel: 1).usesDirectKernel(.automatic))
    }

    @Test(arguments: shapes)
    func forwardHasTheBitsOfThePatchGEMMAndMatchesTheReference(_ shape: (Int, Int, Int, Int)) {
        let (conv, x, w, _) = Self.data(shape)
        let b = GradientCheck.random(conv.outChannels, seed: 44)
        let direct = w.withUnsafeBufferPointer { w in b.withUnsafeBufferPointer { conv.forward(x, weight: w, bias: $0, algorithm: .direct) } }
        let patches = w.withUnsafeBufferPointer { w in b.withUnsafeBufferPointer { conv.forward(x, weight: w, bias: $0, algorithm: .patches) } }
        #expect(direct.shape == patches.shape)
        #expect(direct.storage.map(\.bitPattern) == patches.storage.map(\.bitPattern))
        let reference = Conv2DTests.naive(conv, x, w, b)
        let worst = zip(direct.storage, reference).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst < 1e-4, "largest difference from the reference \(worst)")
    }

    @Test(arguments: shapes)
    func inputGradientMatchesTheReferenceAndThePatchGEMM(_ shape: (Int, Int, Int, Int)) {
        let (conv, x, w, dy) = Self.data(shape)
        let direct = w.withUnsafeBufferPointer { conv.inputGradient(outputGradient: dy, inputShape: x.shape, weight: $0, algorithm: .direct) }
        let patches = w.withUnsafeBufferPointer { conv.inputGradient(outputGradient: dy, inputShape: x.shape, weight: $0, algorithm: .patches) }
        let reference = Self.naiveInputGradient(conv, inputShape: x.shape, w, dy)
        #expect(direct.shape == x.shape)
        for i in 0..<reference.count {
            #expect(abs(Double(direct.storage[i]) - reference[i]) < 1e-4, "element \(i)")
            #expect(abs(direct.storage[i] - patches.storage[i]) < 1e-4, "element \(i)")
        }
    }

    static func naiveWeightGradient(_ conv: Conv2D, _ x: Tensor, _ dy: Tensor) -> [Double] {
        var dw = [Double](repeating: 0, count: conv.weightCount)
        let out = dy.shape
        for n in 0..<out.batch {
            for o in 0..<out.channels {
                for c in 0..<conv.inChannels {
                    for ky in 0..<3 {
                        for kx in 0..<3 {
                            var sum = 0.0
                            for oy in 0..<out.height {
                                for ox in 0..<out.width {
                                    let iy = oy - 1 + ky, ix = ox - 1 + kx
                                    guard iy >= 0, iy < x.shape.height, ix >= 0, ix < x.shape.width else { continue }
                                    sum += Double(dy[n, o, oy, ox]) * Double(x[n, c, iy, ix])
                                }
                            }
                            dw[((o * conv.inChannels + c) * 3 + ky) * 3 + kx] += sum
                        }
                    }
                }
            }
        }
        return dw
    }

    static func weightGradient(_ conv: Conv2D, _ x: Tensor, _ w: [Float], _ dy: Tensor, start: [Float],
                               algorithm: Conv2D.Algorithm, threads: Int = 1) -> [Float] {
        var dw = start
        w.withUnsafeBufferPointer { w in
            dw.withUnsafeMutableBufferPointer { dw in
                _ = conv.backward(input: x, outputGradient: dy, weight: w, weightGradient: dw, biasGradient: nil,
                                  needsInputGradient: false, pool: ComputePool(threads: threads), algorithm: algorithm)
            }
        }
        return dw
    }

    @Test(arguments: shapes)
    func weightGradientIsAddedAndMatchesTheReference(_ shape: (Int, Int, Int, Int)) {
        let (conv, x, w, dy) = Self.data(shape)
        let start = GradientCheck.random(conv.weightCount, seed: 45)
        let direct = Self.weightGradient(conv, x, w, dy, start: start, algorithm: .direct)
        let patches = Self.weightGradient(conv, x, w, dy, start: start, algorithm: .patches)
        let reference = Self.naiveWeightGradient(conv, x, dy)
        for i in 0..<reference.count {
            let expected = reference[i] + Double(start[i]), tolerance = 1e-4 * max(1, abs(expected))
            #expect(abs(Double(direct[i]) - expected) < tolerance, "weight \(i): \(direct[i]) vs \(expected)")
            #expect(abs(Double(patches[i]) - expected) < tolerance, "weight \(i) (patches)")
        }
    }

    @Test(arguments: shapes)
    func sameBitsForAnyThreadCount(_ shape: (Int, Int, Int, Int)) {
        let (conv, x, w, dy) = Self.data(shape)
        func run(_ threads: Int) -> ([UInt32], [UInt32]) {
            let pool = ComputePool(threads: threads)
            return w.withUnsafeBufferPointer { w in
                (conv.forward(x, weight: w, bias: nil, pool: pool, algorithm: .direct).storage.map(\.bitPattern),
                 conv.inputGradient(outputGradient: dy, inputShape: x.shape, weight: w, pool: pool, algorithm: .direct).storage.map(\.bitPattern))
            }
        }
        let one = run(1)
        let zero = [Float](repeating: 0, count: conv.weightCount)
        let dw1 = Self.weightGradient(conv, x, w, dy, start: zero, algorithm: .direct)
        for threads in [2, 3] {
            let other = run(threads)
            let dw = Self.weightGradient(conv, x, w, dy, start: zero, algorithm: .direct, threads: threads)
            #expect(dw1.map(\.bitPattern) == dw.map(\.bitPattern), "weight gradient with \(threads) threads")
            #expect(one.0 == other.0, "forward with \(threads) threads")
            #expect(one.1 == other.1, "input gradient with \(threads) threads")
        }
    }
}

extension Conv2D: CustomTestStringConvertible {
    public var testDescription: String { "conv\(kernel)x\(kernel)/s\(stride)/p\(padding) \(inChannels)->\(outChannels)" }
}
