/// 2x2 max pooling with stride 2 (odd trailing rows and columns are dropped).
///
/// The forward pass records which of the four inputs won, so the backward pass routes each
/// gradient to exactly that input. Ties go to the first in row-major order.
public enum MaxPool2x2 {
    public static func outputShape(_ input: TensorShape) -> TensorShape {
        TensorShape(input.batch, input.channels, input.height / 2, input.width / 2)
    }

    /// Returns the pooled tensor and, per output element, the flat input index of its maximum.
    /// Planes (sample, channel) are shared out over `pool`.
    public static func forward(_ input: Tensor, pool: ComputePool = .serial) -> (output: Tensor, argmax: [Int32]) {
        let shape = outputShape(input.shape)
        var output = Tensor(uninitialized: shape)
        // Every output and winner is written below.
        var argmax = [Int32](unsafeUninitializedCapacity: shape.count) { _, initialized in initialized = shape.count }
        precondition(input.shape.count < Int(Int32.max), "max-pool input \(input.shape) is too large for 32-bit indices")
        guard shape.count > 0 else { return (output, argmax) }
        let (h, w, oh, ow) = (input.shape.height, input.shape.width, shape.height, shape.width)
        input.storage.withUnsafeBufferPointer { xs in
            output.storage.withUnsafeMutableBufferPointer { ys in
                argmax.withUnsafeMutableBufferPointer { args in
                    let x = SharedPointer(xs.baseAddress!), y = SharedPointer(ys.baseAddress!), arg = SharedPointer(args.baseAddress!)
                    pool.forEach(shape.batch * shape.channels) { plane in
                        let src = plane * h * w, dst = plane * oh * ow
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                let first = src + 2 * oy * w + 2 * ox
                                var best = first
                                if x[first + 1] > x[best] { best = first + 1 }
                                if x[first + w] > x[best] { best = first + w }
                                if x[first + w + 1] > x[best] { best = first + w + 1 }
                                y[dst + oy * ow + ox] = x[best]
                                arg[dst + oy * ow + ox] = Int32(best)
                            }
                        }
                    }
                }
            }
        }
        return (output, argmax)
    }

    /// Routes each output gradient to its winner. A winner lies in its output's own plane, so
    /// planes are independent tasks.
    public static func backward(outputGradient: Tensor, argmax: [Int32], inputShape: TensorShape,
                                pool: ComputePool = .serial) -> Tensor {
        let shape = outputShape(inputShape)
        precondition(outputGradient.shape == shape, "max-pool gradient is \(outputGradient.shape), expected \(shape)")
        precondition(argmax.count == shape.count, "max-pool has \(argmax.count) winners for \(shape.count) outputs")
        var dx = Tensor(zeros: inputShape)
        guard shape.count > 0 else { return dx }
        let planeSize = shape.plane
        outputGradient.storage.withUnsafeBufferPointer { gs in
            argmax.withUnsafeBufferPointer { args in
                dx.storage.withUnsafeMutableBufferPointer { dxs in
                    let g = SharedPointer(gs.baseAddress!), arg = SharedPointer(args.baseAddress!), dx = SharedPointer(dxs.baseAddress!)
                    pool.forEach(shape.batch * shape.channels) { plane in
                        for i in (plane * planeSize)..<((plane + 1) * planeSize) { dx[Int(arg[i])] += g[i] }
                    }
                }
            }
        }
        return dx
    }
}
