import Dataset

/// Scores of a model on a set of tiles. Pooled figures sum counts over all tiles first.
public struct EvaluationReport: Sendable, Equatable, Codable {
    public var tiles: Int
    /// Canopy IoU, pooled: total intersection over total union of predicted and true canopy.
    public var canopyIoU: Double
    /// IoU of the two trivial predictions on the same tiles, for comparison: all background
    /// (0 unless a tile has no canopy at all) and all canopy (the true canopy fraction).
    public var allBackgroundIoU: Double
    public var allCanopyIoU: Double
    /// Tree detection: a predicted centre is a true positive if it falls inside a true tree's
    /// instance mask that no earlier (higher-scoring) prediction took.
    public var truePositives: Int
    public var predictedTrees: Int
    public var trueTrees: Int
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// Mean over tiles of |predicted tree count - true tree count|.
    public var countMeanAbsoluteError: Double
    /// (predicted canopy area - true canopy area) / true canopy area, pooled; signed.
    public var relativeCanopyAreaError: Double
}

/// Pure metric functions, and `evaluate`, which runs a model over tiles and applies them.
extension EvaluationReport {
    /// Plain snake_case names in JSON (`canopy_iou`, not what a generic converter makes of `IoU`).
    enum CodingKeys: String, CodingKey {
        case tiles
        case canopyIoU = "canopy_iou", allBackgroundIoU = "all_background_iou", allCanopyIoU = "all_canopy_iou"
        case truePositives = "true_positives", predictedTrees = "predicted_trees", trueTrees = "true_trees"
        case precision, recall, f1
        case countMeanAbsoluteError = "count_mean_absolute_error"
        case relativeCanopyAreaError = "relative_canopy_area_error"
    }
}

public enum Evaluation {
    /// Counts of one tile's canopy comparison.
    public struct CanopyCounts: Sendable, Equatable {
        public var intersection = 0
        public var union = 0
        public var predicted = 0
        public var truth = 0
    }

    public static func canopyCounts(predicted: [Bool], truth: [UInt8]) -> CanopyCounts {
        precondition(predicted.count == truth.count, "prediction has \(predicted.count) pixels, truth \(truth.count)")
        var counts = CanopyCounts()
        for i in 0..<truth.count {
            let p = predicted[i], t = truth[i] != 0
            if p && t { counts.intersection += 1 }
            if p || t { counts.union += 1 }
            if p { counts.predicted += 1 }
            if t { counts.truth += 1 }
        }
        return counts
    }

    /// True positives among predicted centres, visited in descending score (ties in given order):
    /// each takes the true tree whose instance mask contains it, if still free.
    public static func matchCentres(_ centres: [(x: Float, y: Float, score: Float)], instances: [UInt16],
                                    width: Int, height: Int) -> Int {
        let order = centres.indices.sorted { centres[$0].score > centres[$1].score || (centres[$0].score == centres[$1].score && $0 < $1) }
        var taken = Set<UInt16>()
        for index in order {
            let x = Int(centres[index].x.rounded(.down)), y = Int(centres[index].y.rounded(.down))
            guard x >= 0, x < width, y >= 0, y < height else { continue }
            let id = instances[y * width + x]
            if id != 0 && !taken.contains(id) { taken.insert(id) }
        }
        return taken.count
    }

    /// Trees with at least one visible pixel in the tile's instance mask.
    public static func trueTreeCount(_ instances: [UInt16]) -> Int {
        Set(instances.filter { $0 != 0 }).count
    }

    /// Combines per-tile predictions (canopy mask and extracted trees) with their tiles.
    public static func report(tiles: [Tile], canopy: [[Bool]], trees: [[InstanceExtraction.Tree]]) -> EvaluationReport {
        precondition(tiles.count == canopy.count && tiles.count == trees.count, "one prediction per tile is needed")
        var total = CanopyCounts(), emptyTiles = 0, pixels = 0
        var truePositives = 0, predicted = 0, truth = 0, countError = 0
        for (index, tile) in tiles.enumerated() {
            let counts = canopyCounts(predicted: canopy[index], truth: tile.canopy)
            total.intersection += counts.intersection
            total.union += counts.union
            total.predicted += counts.predicted
            total.truth += counts.truth
            pixels += tile.pixelCount
            if counts.truth == 0 { emptyTiles += 1 }
            let centres = trees[index].map { (x: $0.centreX, y: $0.centreY, score: $0.score) }
            truePositives += matchCentres(centres, instances: tile.instances, width: tile.width, height: tile.height)
            let trueCount = trueTreeCount(tile.instances)
            predicted += centres.count
            truth += trueCount
            countError += abs(centres.count - trueCount)
        }
        let precision = predicted == 0 ? 0 : Double(truePositives) / Double(predicted)
        let recall = truth == 0 ? 0 : Double(truePositives) / Double(truth)
        return EvaluationReport(
            tiles: tiles.count,
            canopyIoU: total.union == 0 ? 1 : Double(total.intersection) / Double(total.union),
            allBackgroundIoU: total.truth == 0 ? 1 : 0,
            allCanopyIoU: pixels == 0 ? 0 : Double(total.truth) / Double(pixels),
            truePositives: truePositives, predictedTrees: predicted, trueTrees: truth,
            precision: precision, recall: recall,
            f1: precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall),
            countMeanAbsoluteError: tiles.isEmpty ? 0 : Double(countError) / Double(tiles.count),
            relativeCanopyAreaError: total.truth == 0 ? 0 : Double(total.predicted - total.truth) / Double(total.truth)
        )
    }

    /// Runs `model` on every tile, extracts trees, and scores them.
    public static func evaluate(model: CanopyNet, parameters: [Float], tiles: [Tile],
                                extraction: InstanceExtraction = InstanceExtraction()) -> EvaluationReport {
        evaluate(model: model, parameters: parameters, tiles: tiles, parts: [], extraction: extraction).pooled
    }

    /// Runs `model` once on every tile and scores all of them together (`pooled`) and each range
    /// of `parts` on its own, in order: a held-out set made of several kinds of tiles.
    public static func evaluate(model: CanopyNet, parameters: [Float], tiles: [Tile], parts: [Range<Int>],
                                extraction: InstanceExtraction = InstanceExtraction()) -> (pooled: EvaluationReport, parts: [EvaluationReport]) {
        var masks: [[Bool]] = [], trees: [[InstanceExtraction.Tree]] = []
        for tile in tiles {
            let (canopy, centres) = model.predict(parameters: parameters, tile: tile)
            masks.append(canopy.map { $0 >= extraction.canopyThreshold })
            trees.append(extraction.trees(canopy: canopy, centres: centres, width: tile.width, height: tile.height,
                                          groundSampleDistance: tile.groundSampleDistance))
        }
        let pooled = report(tiles: tiles, canopy: masks, trees: trees)
        return (pooled, parts.map { report(tiles: Array(tiles[$0]), canopy: Array(masks[$0]), trees: Array(trees[$0])) })
    }
}
