import Dataset
import Model

/// Measures a state on the run's held-out tiles: mean loss, and canopy IoU where the model
/// predicts canopy per pixel; with several held-out manifests, the same for each of them too.
enum Validation {
    static func measure(setup: RunSetup, state: Replica) -> ValidationReport? {
        guard !setup.validation.isEmpty else { return nil }
        var scratch = [Float](repeating: 0, count: state.parameters.count)
        let loss = state.parameters.withUnsafeBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { g in setup.model.accumulateGradient(parameters: p, samples: setup.validation, into: g) }
        }
        let parts = setup.validationSplits.map(\.range)
        var iou: Double?
        var trees: EvaluationReport?
        var partIoU: [Double?] = parts.map { _ in nil }
        var partTrees: [EvaluationReport?] = parts.map { _ in nil }
        if let net = setup.model as? CanopyNet {
            let report = Evaluation.evaluate(model: net, parameters: state.parameters, tiles: setup.validation, parts: parts)
            iou = report.pooled.canopyIoU
            trees = report.pooled
            partIoU = report.parts.map(\.canopyIoU)
            partTrees = report.parts
        }
        if let mlp = setup.model as? PixelMLP {
            var intersection = [Int](repeating: 0, count: setup.validation.count), union = intersection
            for (index, tile) in setup.validation.enumerated() {
                let probabilities = state.parameters.withUnsafeBufferPointer { mlp.canopyProbabilities(parameters: $0, tile: tile) }
                for (p, truth) in zip(probabilities, tile.canopy) {
                    let predicted = p > 0.5, actual = truth != 0
                    if predicted && actual { intersection[index] += 1 }
                    if predicted || actual { union[index] += 1 }
                }
            }
            func pooledIoU(_ range: Range<Int>) -> Double? {
                let u = union[range].reduce(0, +)
                return u > 0 ? Double(intersection[range].reduce(0, +)) / Double(u) : nil
            }
            iou = pooledIoU(0..<setup.validation.count)
            partIoU = parts.map(pooledIoU)
        }
        var report = ValidationReport(tiles: setup.validation.count, loss: Double(loss.sum) / Double(setup.validation.count),
                                      canopyIou: iou, trees: trees)
        if !parts.isEmpty {
            report.splits = zip(setup.validationSplits, zip(partIoU, partTrees)).map { split, scores in
                let tiles = setup.validation[split.range]
                let canopy = tiles.reduce(0) { $0 + $1.canopy.reduce(0) { $0 + Int($1 != 0 ? 1 : 0) } }
                let pixels = tiles.reduce(0) { $0 + $1.pixelCount }
                return ValidationSplitReport(
                    name: split.name, tiles: split.range.count,
                    loss: Double(loss.perSample[split.range].reduce(0, +)) / Double(split.range.count),
                    canopyIou: scores.0, allCanopyIou: pixels == 0 ? 0 : Double(canopy) / Double(pixels), trees: scores.1)
            }
        }
        return report
    }
}
