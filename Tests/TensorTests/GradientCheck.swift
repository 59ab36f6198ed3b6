import Core
import Tensor

/// Finite-difference helpers shared by the gradient tests.
///
/// Layers are checked through the scalar `L = sum_i r_i * y_i` with fixed random `r`, computed in
/// Double, so that `dL/dy = r` and every output element matters.
enum GradientCheck {
    /// Central differences of `loss` with respect to every element of `values`.
    static func numeric(_ values: [Float], epsilon: Float, _ loss: ([Float]) -> Double) -> [Float] {
        var probe = values
        var gradient = [Float](repeating: 0, count: values.count)
        for i in 0..<values.count {
            probe[i] = values[i] + epsilon
            let up = loss(probe)
            probe[i] = values[i] - epsilon
            let down = loss(probe)
            probe[i] = values[i]
            gradient[i] = Float((up - down) / (2 * Double(epsilon)))
        }
        return gradient
    }

    /// `||a - b|| / max(||a||, ||b||, tiny)`: small when the two gradients agree in every element
    /// that carries weight.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        var diff = 0.0, na = 0.0, nb = 0.0
        for i in 0..<a.count {
            diff += Double(a[i] - b[i]) * Double(a[i] - b[i])
            na += Double(a[i]) * Double(a[i])
            nb += Double(b[i]) * Double(b[i])
        }
        return diff.squareRoot() / max(na.squareRoot(), nb.squareRoot(), 1e-12)
    }

    static func weightedSum(_ y: Tensor, _ r: [Float]) -> Double {
        var total = 0.0
        for i in 0..<r.count { total += Double(y.storage[i]) * Double(r[i]) }
        return total
    }

    /// Uniform values in [-scale, scale) from a seed.
    static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in (generator.nextUnitFloat() * 2 - 1) * scale }
    }

    static func tensor(_ shape: TensorShape, seed: UInt64, scale: Float = 1) -> Tensor {
        Tensor(shape: shape, storage: random(shape.count, seed: seed, scale: scale))
    }
}
