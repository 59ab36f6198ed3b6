/// A 2-D convolution (cross-correlation) with square kernels: 3x3 with stride 1 and padding 1
/// through the direct kernel (`DirectConv3x3`), anything else as a GEMM over the patch matrix,
/// packed straight from the image (`ConvPatches`). `Algorithm` selects; the choice depends only on
/// the shape.
///
/// Weights are `[out, in, kernel, kernel]` row-major, bias `[out]`. Through the patch matrix, per
/// sample, the forward pass is `Y[out, HW'] = W[out, in*k*k] * P[in*k*k, HW']`, the weight
/// gradient `dW += dY * P^T`, and the input gradient folds `W^T * dY` back onto the image. Weight
/// gradients are summed over the batch in sample order by both algorithms.
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

    /// How a convolution is computed. Both give the same forward bits; input gradients of the two
    /// differ in rounding, so a model must keep one choice (`automatic` decides from the shape
    /// alone, never from the thread count).
    public enum Algorithm: Sendable, Hashable {
        /// `direct` where it applies (3x3, stride 1, padding 1), the patch-matrix GEMM elsewhere.
        case automatic
        /// GEMM over the patch matrix (any kernel, stride and padding).
        case patches
        /// `DirectConv3x3` (3x3, stride 1, padding 1 only).
        case direct
    }

    /// Whether `algorithm` runs this convolution through `DirectConv3x3`.
    public func usesDirectKernel(_ algorithm: Algorithm) -> Bool {
        let fits = kernel == 3 && stride == 1 && padding == 1
        switch algorithm {
        case .patches: return false
        case .automatic: return fits
        case .direct:
            precondition(fits, "the direct kernel needs a 3x3 convolution with stride 1 and padding 1, not \(self)")
            return true
        }
    }

    public func forward(_ input: Tensor, weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>?,
                        pool: ComputePool = .serial, algorithm: Algorithm = .automatic) -> Tensor {
        precondition(weight.count == weightCount, "conv \(self) needs \(weightCount) weights, got \(weight.count)")
        precondition(bias == nil || bias!.count == outChannels, "conv bias needs \(outChannels) values, got \(bias!.count)")
        let outShape = outputShape(input.shape), plane = outShape.plane
        let w = MatrixView(weight.baseAddress!, rowMajorLeading: patchSize)
        let direct = usesDirectKernel(algorithm) && outShape.count > 0
        let packed = direct ? DirectConv3x3.packWeights(outputs: outChannels, inputs: inChannels) { o, c, t in
            weight[(o * inChannels + c) * 9 + t]
        } : []
        // Every output element is written by the GEMM (accumulate: false), so no zero fill.
        let storage = [Float](unsafeUninitializedCapacity: outShape.count) { y, initialized in
            input.storage.withUnsafeBufferPointer { x in
                if direct {
                    packed.withUnsafeBufferPointer { packed in
                        DirectConv3x3.convolve(input: x.baseAddress!, batch: input.shape.batch, inputs: inChannels,
                                               height: input.shape.height, width: input.shape.width,
                                               packedWeights: packed.baseAddress!, outputs: outChannels,
                                               into: y.baseAddress!, pool: pool)
                    }
                }
                for n in 0..<input.shape.batch where !direct || bias != nil {
                    let sample = x.baseAddress! + n * input.shape.sampleSize
                    let out = y.baseAddress! + n * outShape.sampleSize
                    if direct {
                        // Computed above for the whole batch.
                    } else if readsInputDirectly {
                        GEMM.multiply(m: outChannels, n: plane, k: patchSize, a: w,
                                      b: MatrixView(sample, rowMajorLeading: plane),
                                      c: out, ldc: plane, accumulate: false, pool: pool)
                    } else {
                        GEMM.multiply(m: outChannels, n: plane, k: patchSize, a: w,
                                      source: ConvPatches(self, input: sample, height: input.shape.height, width: input.shape.width),
                                      c: out, ldc: plane, accumulate: false, pool: pool)
                    }
                    if let bias {
                        for o in 0..<outChannels {
                            let channel = out + o * plane, value = bias[o]
                            for i in 0..<plane { channel[i] += value }
                        }
                    }
                }
            }
            initialized = outShape.count
        }
        return Tensor(shape: outShape, storage: storage)
    }

    /// Adds the weight and bias gradients into `weightGradient` / `biasGradient` and returns the
    /// input gradient (or nil when `needsInputGradient` is false, e.g. for the first layer).
    public func backward(
        input: Tensor, outputGradient: Tensor, weight: UnsafeBufferPointer<Float>,
        weightGradient: UnsafeMutableBufferPointer<Float>, biasGradient: UnsafeMutableBufferPointer<Float>?,
        needsInputGradient: Bool = true, pool: ComputePool = .serial, algorithm: Algorithm = .automatic
    ) -> Tensor? {
        let outShape = outputShape(input.shape)
        precondition(outputGradient.shape == outShape, "conv output gradient is \(outputGradient.shape), expected \(outShape)")
        precondition(weightGradient.count == weightCount, "conv weight gradient needs \(weightCount) values, got \(weightGradient.count)")
        precondition(biasGradient == nil || biasGradient!.count == outChannels, "conv bias gradient needs \(outChannels) values")
        let direct = usesDirectKernel(algorithm)
        input.storage.withUnsafeBufferPointer { x in
            outputGradient.storage.withUnsafeBufferPointer { dy in
                if direct && input.shape.count > 0 {
                    DirectConv3x3.accumulateWeightGradient(
                        input: x.baseAddress!, outputGradient: dy.baseAddress!, batch: input.shape.batch, inputs: inChannels,
                        outputs: outChannels, height: input.shape.height, width: input.shape.width,
                        into: weightGradient.baseAddress!, pool: pool)
                }
                for n in 0..<input.shape.batch {
                    if direct {
                        if let biasGradient {
                            let g = dy.baseAddress! + n * outShape.sampleSize
                            for o in 0..<outChannels { biasGradient[o] += Float(Reduce.sum(g + o * outShape.plane, outShape.plane)) }
                        }
                        continue
                    }
                    accumulateParameterGradients(input: x.baseAddress! + n * input.shape.sampleSize,
                                                 outputGradient: dy.baseAddress! + n * outShape.sampleSize,
                                                 inputShape: input.shape, weightGradient: weightGradient,
                                                 biasGradient: biasGradient, pool: pool)
                }
            }
        }
        guard needsInputGradient else { return nil }
        return inputGradient(outputGradient: outputGradient, inputShape: input.shape, weight: weight, pool: pool, algorithm: algorithm)
    }

    /// The input gradient alone: `fold(W^T dY)` through the patch matrix, or for the direct kernel
    /// `dY` convolved with the weights transposed and flipped.
    public func inputGradient(outputGradient: Tensor, inputShape: TensorShape, weight: UnsafeBufferPointer<Float>,
                              pool: ComputePool = .serial, algorithm: Algorithm = .automatic) -> Tensor {
        let outShape = outputShape(inputShape)
        precondition(outputGradient.shape == outShape, "conv output gradient is \(outputGradient.shape), expected \(outShape)")
        precondition(weight.count == weightCount, "conv \(self) needs \(weightCount) weights, got \(weight.count)")
        if usesDirectKernel(algorithm) && inputShape.count > 0 {
            // Stride 1, padding 1: dX is dY convolved with the weights transposed and flipped.
            let packed = DirectConv3x3.packWeights(outputs: inChannels, inputs: outChannels) { c, o, t in
                weight[(o * inChannels + c) * 9 + (8 - t)]
            }
            let storage = [Float](unsafeUninitializedCapacity: inputShape.count) { dx, initialized in
                outputGradient.storage.withUnsafeBufferPointer { dy in
                    packed.withUnsafeBufferPointer { packed in
                        DirectConv3x3.convolve(input: dy.baseAddress!, batch: outShape.batch, inputs: outChannels,
                                               height: outShape.height, width: outShape.width,
                                               packedWeights: packed.baseAddress!, outputs: inChannels,
                                               into: dx.baseAddress!, pool: pool)
                    }
                }
                initialized = inputShape.count
            }
            return Tensor(shape: inputShape, storage: storage)
        }
        var inputGradient = Tensor(zeros: inputShape)
        var columns = [Float](repeating: 0, count: readsInputDirectly ? 0 : patchSize * bandRows(outShape) * outShape.width)
        outputGradient.storage.withUnsafeBufferPointer { dy in
            inputGradient.storage.withUnsafeMutableBufferPointer { dx in
                columns.withUnsafeMutableBufferPointer { columns in
                    for n in 0..<inputShape.batch {
                        addInputGradient(outputGradient: dy.baseAddress! + n * outShape.sampleSize, weight: weight,
                                         inputShape: inputShape, scratch: columns.baseAddress,
                                         into: dx.baseAddress! + n * inputShape.sampleSize, pool: pool)
                    }
                }
            }
        }
        return inputGradient
    }

    /// One sample: `dB[o] += sum dY[o, :]` and `dW[o, patch] += dY[o, :] . P[patch, :]`.
    func accumulateParameterGradients(
        input: UnsafePointer<Float>, outputGradient g: UnsafePointer<Float>, inputShape: TensorShape,
        weightGradient: UnsafeMutableBufferPointer<Float>, biasGradient: UnsafeMutableBufferPointer<Float>?,
        pool: ComputePool
    ) {
        let hw = outputShape(inputShape).plane
        if let biasGradient {
            for o in 0..<outChannels { biasGradient[o] += Float(Reduce.sum(g + o * hw, hw)) }
        }
        let dY = MatrixView(g, rowMajorLeading: hw)
        if readsInputDirectly {
            GEMM.multiplyByTranspose(m: outChannels, n: patchSize, k: hw, a: dY, b: MatrixView(input, rowMajorLeading: hw),
                                     c: weightGradient.baseAddress!, ldc: patchSize, accumulate: true, pool: pool)
        } else {
            GEMM.multiplyByTranspose(m: outChannels, n: patchSize, k: hw, a: dY,
                                     b: ConvPatches(self, input: input, height: inputShape.height, width: inputShape.width),
                                     c: weightGradient.baseAddress!, ldc: patchSize, accumulate: true, pool: pool)
        }
    }

    /// Output rows per band of the input-gradient product: about 2048 pixels, so that a band of
    /// the column matrix (`patchSize x band`) stays in L2 between the GEMM and the fold.
    func bandRows(_ outShape: TensorShape) -> Int {
        min(outShape.height, max(1, 2048 / max(1, outShape.width)))
    }

    /// One sample: `dX += fold(W^T dY)`, a band of output rows at a time; a 1x1 stride-1
    /// convolution adds `W^T dY` directly. `scratch` holds `patchSize x band` floats (nil for the
    /// direct case).
    func addInputGradient(
        outputGradient g: UnsafePointer<Float>, weight: UnsafeBufferPointer<Float>, inputShape: TensorShape,
        scratch: UnsafeMutablePointer<Float>?, into target: UnsafeMutablePointer<Float>, pool: ComputePool
    ) {
        let outShape = outputShape(inputShape), hw = outShape.plane
        let wT = MatrixView(weight.baseAddress!, rowMajorLeading: patchSize).transposed
        if readsInputDirectly {
            GEMM.multiply(m: patchSize, n: hw, k: outChannels, a: wT, b: MatrixView(g, rowMajorLeading: hw),
                          c: target, ldc: hw, accumulate: true, pool: pool)
            return
        }
        let rows = bandRows(outShape)
        for first in Swift.stride(from: 0, to: outShape.height, by: rows) {
            let band = first..<min(outShape.height, first + rows), pixels = band.count * outShape.width
            GEMM.multiply(m: patchSize, n: pixels, k: outChannels, a: wT,
                          b: MatrixView(g + first * outShape.width, rowMajorLeading: hw),
                          c: scratch!, ldc: pixels, accumulate: false, pool: pool)
            Im2Col.fold(self, columns: UnsafePointer(scratch!), outputRows: band, height: inputShape.height,
                        width: inputShape.width, into: target, pool: pool)
        }
    }
}
