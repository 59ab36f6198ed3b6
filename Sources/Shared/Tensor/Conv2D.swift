/// A 2-D convolution (cross-correlation) with square kernels, computed as a GEMM over the patch
/// matrix, packed straight from the image (`ConvPatches`).
///
/// Weights are `[out, in, kernel, kernel]` row-major, bias `[out]`. Per sample, the forward pass is
/// `Y[out, HW'] = W[out, in*k*k] * P[in*k*k, HW']`, the weight gradient `dW += dY * P^T`, and the
/// input gradient folds `W^T * dY` back onto the image. Samples are processed one after another, so weight gradients are summed over
/// the batch in sample order.
public struct Conv2D: Hashable, Sendable {
    public var inChannels: Int
    public var outChannels: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    /// - Parameters: `kernel` 1 or 3 (any positive size works), `stride` 1 or 2, `padding` zeros
    ///   added on every side.
    public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int? = nil) {
        precondition(inChannels > 0 && outChannels > 0, "conv needs positive channels, got \(inChannels)->\(outChannels)")
        precondition(kernel > 0 && stride > 0, "conv kernel \(kernel) and stride \(stride) must be positive")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding ?? kernel / 2
    }

    public var weightCount: Int { outChannels * inChannels * kernel * kernel }
    /// Rows of the im2col matrix: one per (input channel, kernel row, kernel column).
    public var patchSize: Int { inChannels * kernel * kernel }

    public func outputShape(_ input: TensorShape) -> TensorShape {
        precondition(input.channels == inChannels, "conv expects \(inChannels) input channels, got \(input)")
        let h = (input.height + 2 * padding - kernel) / stride + 1
        let w = (input.width + 2 * padding - kernel) / stride + 1
        return TensorShape(input.batch, outChannels, h, w)
    }

    /// Multiply-adds times two, per sample, for an input of `height x width`.
    public func flops(height: Int, width: Int) -> Int {
        let out = outputShape(TensorShape(1, inChannels, height, width))
        return 2 * weightCount * out.plane
    }

    var readsInputDirectly: Bool { kernel == 1 && stride == 1 && padding == 0 }

    public func forward(_ input: Tensor, weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>?,
                        pool: ComputePool = .serial) -> Tensor {
        precondition(weight.count == weightCount, "conv \(self) needs \(weightCount) weights, got \(weight.count)")
        precondition(bias == nil || bias!.count == outChannels, "conv bias needs \(outChannels) values")
        let outShape = outputShape(input.shape)
        var output = Tensor(zeros: outShape)
        input.storage.withUnsafeBufferPointer { x in
            output.storage.withUnsafeMutableBufferPointer { y in
                do {
                    for n in 0..<input.shape.batch {
                        let sample = x.baseAddress! + n * input.shape.sampleSize
                        let out = y.baseAddress! + n * outShape.sampleSize
                        let w = MatrixView(weight.baseAddress!, rowMajorLeading: patchSize)
                        if readsInputDirectly {
                            GEMM.multiply(m: outChannels, n: outShape.plane, k: patchSize, a: w,
                                          b: MatrixView(sample, rowMajorLeading: outShape.plane),
                                          c: out, ldc: outShape.plane, accumulate: false, pool: pool)
                        } else {
                            GEMM.multiply(m: outChannels, n: outShape.plane, k: patchSize, a: w,
                                          source: ConvPatches(self, input: sample, height: input.shape.height, width: input.shape.width),
                                          c: out, ldc: outShape.plane, accumulate: false, pool: pool)
                        }
                        if let bias {
                            for o in 0..<outChannels {
                                let plane = out + o * outShape.plane, value = bias[o]
                                for i in 0..<outShape.plane { plane[i] += value }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Adds the weight and bias gradients into `weightGradient` / `biasGradient` and returns the
    /// input gradient (or nil when `needsInputGradient` is false, e.g. for the first layer).
    public func backward(
        input: Tensor, outputGradient: Tensor, weight: UnsafeBufferPointer<Float>,
        weightGradient: UnsafeMutableBufferPointer<Float>, biasGradient: UnsafeMutableBufferPointer<Float>?,
        needsInputGradient: Bool = true, pool: ComputePool = .serial
    ) -> Tensor? {
        let outShape = outputShape(input.shape)
        precondition(outputGradient.shape == outShape, "conv output gradient is \(outputGradient.shape), expected \(outShape)")
        precondition(weightGradient.count == weightCount, "conv weight gradient needs \(weightCount) values")
        var inputGradient = [Float](repeating: 0, count: needsInputGradient ? input.shape.count : 0)
        let direct = readsInputDirectly
        var colGradient = [Float](repeating: 0, count: direct || !needsInputGradient ? 0 : patchSize * outShape.plane)
        let hw = outShape.plane
        input.storage.withUnsafeBufferPointer { x in
            outputGradient.storage.withUnsafeBufferPointer { dy in
                do {
                    colGradient.withUnsafeMutableBufferPointer { dcol in
                        for n in 0..<input.shape.batch {
                            let sample = x.baseAddress! + n * input.shape.sampleSize
                            let g = dy.baseAddress! + n * outShape.sampleSize
                            if let biasGradient {
                                for o in 0..<outChannels {
                                    var sum: Float = 0
                                    for i in 0..<hw { sum += g[o * hw + i] }
                                    biasGradient[o] += sum
                                }
                            }
                            // dW[out, patch] += dY[out, hw] * P[patch, hw]^T
                            let dY = MatrixView(g, rowMajorLeading: hw)
                            if direct {
                                GEMM.multiplyByTranspose(m: outChannels, n: patchSize, k: hw, a: dY,
                                                         b: MatrixView(sample, rowMajorLeading: hw),
                                                         c: weightGradient.baseAddress!, ldc: patchSize, accumulate: true, pool: pool)
                            } else {
                                GEMM.multiplyByTranspose(m: outChannels, n: patchSize, k: hw, a: dY,
                                                         b: ConvPatches(self, input: sample, height: input.shape.height,
                                                                        width: input.shape.width),
                                                         c: weightGradient.baseAddress!, ldc: patchSize, accumulate: true, pool: pool)
                            }
                            guard needsInputGradient else { continue }
                            inputGradient.withUnsafeMutableBufferPointer { dx in
                                let target = dx.baseAddress! + n * input.shape.sampleSize
                                // dcol[patch, hw] = W[out, patch]^T * dY[out, hw]
                                let wT = MatrixView(weight.baseAddress!, rowMajorLeading: patchSize).transposed
                                if direct {
                                    GEMM.multiply(m: patchSize, n: hw, k: outChannels, a: wT,
                                                  b: MatrixView(g, rowMajorLeading: hw),
                                                  c: target, ldc: hw, accumulate: false, pool: pool)
                                } else {
                                    GEMM.multiply(m: patchSize, n: hw, k: outChannels, a: wT,
                                                  b: MatrixView(g, rowMajorLeading: hw),
                                                  c: dcol.baseAddress!, ldc: hw, accumulate: false, pool: pool)
                                    Im2Col.fold(self, columns: UnsafePointer(dcol.baseAddress!), height: input.shape.height,
                                                width: input.shape.width, into: target, pool: pool)
                                }
                            }
                        }
                    }
                }
            }
        }
        return needsInputGradient ? Tensor(shape: input.shape, storage: inputGradient) : nil
    }
}
