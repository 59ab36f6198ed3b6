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
    public static func binaryCrossEntropy(logits: Tensor, targets: [Float], positiveWeight: Float = 1) -> (perSample: [Double], gradient: Tensor) {
        precondition(targets.count == logits.shape.count, "BCE has \(logits.shape.count) logits but \(targets.count) targets")
        let size = logits.shape.sampleSize
        var gradient = Tensor(zeros: logits.shape)
        var losses = [Double](repeating: 0, count: logits.shape.batch)
        let scale = 1 / Float(size)
        for n in 0..<logits.shape.batch {
            var total = 0.0
            for i in (n * size)..<((n + 1) * size) {
                let x = logits.storage[i], t = targets[i]
                let weight = 1 + (positiveWeight - 1) * t
                // softplus(-x) = log(1 + e^-|x|) + max(-x, 0)
                let softplus = log1pf(expf(-abs(x))) + max(-x, 0)
                total += Double((1 - t) * x + weight * softplus)
                gradient.storage[i] = ((1 - t) - weight * Activation.sigmoid(-x)) * scale
            }
            losses[n] = total / Double(size)
        }
        return (losses, gradient)
    }

    /// Soft Dice loss on the sigmoid of the logits, one value per sample:
    /// `1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)` with smoothing `s` (so empty masks score 0).
    public static func softDice(logits: Tensor, targets: [Float], smoothing: Float = 1) -> (perSample: [Double], gradient: Tensor) {
        precondition(targets.count == logits.shape.count, "Dice has \(logits.shape.count) logits but \(targets.count) targets")
        let size = logits.shape.sampleSize
        var gradient = Tensor(zeros: logits.shape)
        var losses = [Double](repeating: 0, count: logits.shape.batch)
        let probabilities = logits.storage.map { Activation.sigmoid($0) }
        for n in 0..<logits.shape.batch {
            let range = (n * size)..<((n + 1) * size)
            var intersection = 0.0, predicted = 0.0, truth = 0.0
            for i in range {
                intersection += Double(probabilities[i] * targets[i])
                predicted += Double(probabilities[i])
                truth += Double(targets[i])
            }
            let numerator = 2 * intersection + Double(smoothing), denominator = predicted + truth + Double(smoothing)
            losses[n] = 1 - numerator / denominator
            for i in range {
                let p = Double(probabilities[i])
                let dp = -(2 * Double(targets[i]) * denominator - numerator) / (denominator * denominator)
                gradient.storage[i] = Float(dp * p * (1 - p))
            }
        }
        return (losses, gradient)
    }
}
