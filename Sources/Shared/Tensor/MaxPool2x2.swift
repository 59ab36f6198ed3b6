/// 2x2 max pooling with stride 2 (odd trailing rows and columns are dropped).
///
/// The forward pass records which of the four inputs won, so the backward pass routes each
/// gradient to exactly that input. Ties go to the first in row-major order.
public enum MaxPool2x2 {
    public static func outputShape(_ input: TensorShape) -> TensorShape {
        TensorShape(input.batch, input.channels, input.height / 2, input.width / 2)
    }

    /// Returns the pooled tensor and, per output element, the flat input index of its maximum.
    public static func forward(_ input: Tensor) -> (output: Tensor, argmax: [Int32]) {
        let shape = outputShape(input.shape)
        var output = Tensor(zeros: shape)
        var argmax = [Int32](repeating: 0, count: shape.count)
        precondition(input.shape.count < Int(Int32.max), "max-pool input \(input.shape) is too large for 32-bit indices")
        let (h, w, oh, ow) = (input.shape.height, input.shape.width, shape.height, shape.width)
        input.storage.withUnsafeBufferPointer { x in
            output.storage.withUnsafeMutableBufferPointer { y in
                argmax.withUnsafeMutableBufferPointer { arg in
                    for plane in 0..<(shape.batch * shape.channels) {
                        let src = plane * h * w, dst = plane * oh * ow
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                var best = src + 2 * oy * w + 2 * ox
                                for candidate in [best + 1, best + w, best + w + 1] where x[candidate] > x[best] {
                                    best = candidate
                                }
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

    public static func backward(outputGradient: Tensor, argmax: [Int32], inputShape: TensorShape) -> Tensor {
        precondition(outputGradient.shape == outputShape(inputShape),
                     "max-pool gradient is \(outputGradient.shape), expected \(outputShape(inputShape))")
        var dx = Tensor(zeros: inputShape)
        dx.storage.withUnsafeMutableBufferPointer { dx in
            for (i, g) in outputGradient.storage.enumerated() { dx[Int(argmax[i])] += g }
        }
        return dx
    }
}
