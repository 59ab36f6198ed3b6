import Dataset
import Model

/// Measures a state on the run's held-out tiles: mean loss, and canopy IoU where the model
/// predicts canopy per pixel.
enum Validation {
    static func measure(setup: RunSetup, state: Replica) -> ValidationReport? {
        guard !setup.validation.isEmpty else { return nil }
        var scratch = [Float](repeating: 0, count: state.parameters.count)
        let loss = state.parameters.withUnsafeBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { g in setup.model.accumulateGradient(parameters: p, samples: setup.validation, into: g) }
        }
        var iou: Double?
        var trees: EvaluationReport?
        if let net = setup.model as? CanopyNet {
            let report = Evaluation.evaluate(model: net, parameters: state.parameters, tiles: setup.validation)
            iou = report.canopyIoU
            trees = report
        }
        if let mlp = setup.model as? PixelMLP {
            var intersection = 0, union = 0
            for tile in setup.validation {
                let probabilities = state.parameters.withUnsafeBufferPointer { mlp.canopyProbabilities(parameters: $0, tile: tile) }
                for (p, truth) in zip(probabilities, tile.canopy) {
                    let predicted = p > 0.5, actual = truth != 0
                    if predicted && actual { intersection += 1 }
                    if predicted || actual { union += 1 }
                }
            }
            iou = union > 0 ? Double(intersection) / Double(union) : nil
        }
        return ValidationReport(tiles: setup.validation.count, loss: Double(loss.sum) / Double(setup.validation.count), canopyIou: iou, trees: trees)
    }
}
