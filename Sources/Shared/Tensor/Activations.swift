#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Pointwise activations. The derivative of ReLU at exactly 0 is taken as 0.
public enum Activation {
    public static func relu(_ x: Tensor, pool: ComputePool = .serial) -> Tensor {
        guard !x.storage.isEmpty else { return x }
        let storage = [Float](unsafeUninitializedCapacity: x.storage.count) { out, initialized in
            x.storage.withUnsafeBufferPointer { input in
                let from = SharedPointer(input.baseAddress!), to = SharedPointer(out.baseAddress!)
                pool.forEachRange(input.count) { range in
                    for i in range { to[i] = max(from[i], 0) }
                }
            }
            initialized = x.storage.count
        }
        return Tensor(shape: x.shape, storage: storage)
    }

    /// Gradient of ReLU given its output (positive output means positive input).
    public static func reluBackward(output: Tensor, outputGradient: Tensor, pool: ComputePool = .serial) -> Tensor {
        precondition(output.shape == outputGradient.shape, "relu gradient \(outputGradient.shape) does not match \(output.shape)")
        let count = output.storage.count
        guard count > 0 else { return outputGradient }
        let storage = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            output.storage.withUnsafeBufferPointer { y in
                outputGradient.storage.withUnsafeBufferPointer { g in
                    let y = SharedPointer(y.baseAddress!), g = SharedPointer(g.baseAddress!), to = SharedPointer(out.baseAddress!)
                    pool.forEachRange(count) { range in
                        for i in range { to[i] = y[i] > 0 ? g[i] : 0 }
                    }
                }
            }
            initialized = count
        }
        return Tensor(shape: output.shape, storage: storage)
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
