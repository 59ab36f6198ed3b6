#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Pointwise activations. The derivative of ReLU at exactly 0 is taken as 0.
public enum Activation {
    public static func relu(_ x: Tensor) -> Tensor {
        Tensor(shape: x.shape, storage: x.storage.map { max($0, 0) })
    }

    /// Gradient of ReLU given its output (positive output means positive input).
    public static func reluBackward(output: Tensor, outputGradient: Tensor) -> Tensor {
        precondition(output.shape == outputGradient.shape, "relu gradient \(outputGradient.shape) does not match \(output.shape)")
        var dx = outputGradient
        dx.storage.withUnsafeMutableBufferPointer { g in
            output.storage.withUnsafeBufferPointer { y in
                for i in 0..<g.count where !(y[i] > 0) { g[i] = 0 }
            }
        }
        return dx
    }

    /// The logistic function, written so that neither branch overflows.
    @inline(__always) public static func sigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + expf(-x)) }
        let e = expf(x)
        return e / (1 + e)
    }

    public static func sigmoid(_ x: Tensor) -> Tensor {
        Tensor(shape: x.shape, storage: x.storage.map { sigmoid($0) })
    }

    /// Gradient of the sigmoid given its output `s`: `g * s * (1 - s)`.
    public static func sigmoidBackward(output: Tensor, outputGradient: Tensor) -> Tensor {
        precondition(output.shape == outputGradient.shape, "sigmoid gradient \(outputGradient.shape) does not match \(output.shape)")
        var dx = outputGradient
        for i in 0..<dx.storage.count { dx.storage[i] *= output.storage[i] * (1 - output.storage[i]) }
        return dx
    }
}
