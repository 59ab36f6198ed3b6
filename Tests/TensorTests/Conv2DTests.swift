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

extension Conv2D: CustomTestStringConvertible {
    public var testDescription: String { "conv\(kernel)x\(kernel)/s\(stride)/p\(padding) \(inChannels)->\(outChannels)" }
}
