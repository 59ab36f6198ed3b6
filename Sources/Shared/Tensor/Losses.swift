#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Per-pixel losses on logits. Each returns the loss of every sample of the batch (a mean over that
/// sample's pixels, or a Dice score), summed in Double and returned in Double so that finite
/// differences and validation curves are not limited by float rounding, and the gradient of the
/// summed loss with respect to the logits.
public enum Loss {
    /// Binary cross-entropy on logits, stable for any magnitude, with an optional weight on the
    /// positive term (`positiveWeight` > 1 raises recall on rare positives such as tree centres).
    ///
    /// `l = (1 - t) x + (1 + (w - 1) t) softplus(-x)`, averaged over one sample's elements; targets
    /// may be soft (in [0, 1]).
    ///
    /// Samples are independent tasks of `pool`; each sums its own loss in order.
    public static func binaryCrossEntropy(logits: Tensor, targets: [Float], positiveWeight: Float = 1,
                                          pool: ComputePool = .serial) -> (perSample: [Double], gradient: Tensor) {
        precondition(targets.count == logits.shape.count, "BCE has \(logits.shape.count) logits but \(targets.count) targets")
        let size = logits.shape.sampleSize, batch = logits.shape.batch
        var gradient = Tensor(uninitialized: logits.shape)
        var losses = [Double](repeating: 0, count: batch)
        guard size > 0 else { return (losses, gradient) }
        let scale = 1 / Float(size)
        logits.storage.withUnsafeBufferPointer { xs in
            targets.withUnsafeBufferPointer { ts in
                gradient.storage.withUnsafeMutableBufferPointer { gs in
                    losses.withUnsafeMutableBufferPointer { ls in
                        let x = SharedPointer(xs.baseAddress!), t = SharedPointer(ts.baseAddress!)
                        let g = SharedPointer(gs.baseAddress!), loss = SharedPointer(ls.baseAddress!)
                        pool.forEach(batch) { n in
                            var total = 0.0
                            for i in (n * size)..<((n + 1) * size) {
                                let x = x[i], t = t[i]
                                let weight = 1 + (positiveWeight - 1) * t
                                // softplus(-x) = log(1 + e^-|x|) + max(-x, 0)
                                let softplus = log1pf(expf(-abs(x))) + max(-x, 0)
                                total += Double((1 - t) * x + weight * softplus)
                                g[i] = ((1 - t) - weight * Activation.sigmoid(-x)) * scale
                            }
                            loss[n] = total / Double(size)
                        }
                    }
                }
            }
        }
        return (losses, gradient)
    }

    /// Soft Dice loss on the sigmoid of the logits, one value per sample:
    /// `1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)` with smoothing `s` (so empty masks score 0).
    /// Samples are independent tasks of `pool`.
    public static func softDice(logits: Tensor, targets: [Float], smoothing: Float = 1,
                                pool: ComputePool = .serial) -> (perSample: [Double], gradient: Tensor) {
        precondition(targets.count == logits.shape.count, "Dice has \(logits.shape.count) logits but \(targets.count) targets")
        let size = logits.shape.sampleSize, batch = logits.shape.batch
        var gradient = Tensor(uninitialized: logits.shape)
        var losses = [Double](repeating: 0, count: batch)
        guard size > 0 else { return (losses, gradient) }
        logits.storage.withUnsafeBufferPointer { xs in
            targets.withUnsafeBufferPointer { ts in
                gradient.storage.withUnsafeMutableBufferPointer { gs in
                    losses.withUnsafeMutableBufferPointer { ls in
                        let x = SharedPointer(xs.baseAddress!), t = SharedPointer(ts.baseAddress!)
                        let g = SharedPointer(gs.baseAddress!), loss = SharedPointer(ls.baseAddress!)
                        pool.forEach(batch) { n in
                            let range = (n * size)..<((n + 1) * size)
                            // The probabilities go to the gradient buffer first, then are replaced.
                            for i in range { g[i] = Activation.sigmoid(x[i]) }
                            var intersection = 0.0, predicted = 0.0, truth = 0.0
                            for i in range {
                                intersection += Double(g[i] * t[i])
                                predicted += Double(g[i])
                                truth += Double(t[i])
                            }
                            let numerator = 2 * intersection + Double(smoothing), denominator = predicted + truth + Double(smoothing)
                            loss[n] = 1 - numerator / denominator
                            for i in range {
                                let p = Double(g[i])
                                let dp = -(2 * Double(t[i]) * denominator - numerator) / (denominator * denominator)
                                g[i] = Float(dp * p * (1 - p))
                            }
                        }
                    }
                }
            }
        }
        return (losses, gradient)
    }
}
