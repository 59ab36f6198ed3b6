import Dataset
import Foundation
import Testing
@testable import Model

/// Metrics on fixtures small enough to compute by hand.
struct EvaluationTests {
    @Test func canopyCountsAndIoU() {
        let truth: [UInt8] = [1, 1, 0, 0, 1, 0]
        let predicted = [true, false, true, false, true, false]
        let counts = Evaluation.canopyCounts(predicted: predicted, truth: truth)
        #expect(counts == Evaluation.CanopyCounts(intersection: 2, union: 4, predicted: 3, truth: 3))
    }

    @Test func centresMatchOneToOneByScore() {
        // 4x1 tile: pixels 0-1 are tree 1, pixel 3 is tree 2.
        let instances: [UInt16] = [1, 1, 0, 2]
        let centres: [(x: Float, y: Float, score: Float)] = [
            (0.5, 0.5, 0.5),   // tree 1
            (1.5, 0.5, 0.9),   // tree 1 again, higher score: it takes tree 1
            (2.5, 0.5, 0.8),   // background
            (3.5, 0.5, 0.7),   // tree 2
            (9.5, 0.5, 0.9),   // outside the tile
        ]
        #expect(Evaluation.matchCentres(centres, instances: instances, width: 4, height: 1) == 2)
        #expect(Evaluation.trueTreeCount([0, 3, 3, 7, 0]) == 2)
    }

    @Test func reportPoolsTilesAsComputedByHand() {
        // Tile A (2x2): truth canopy [1,1,0,0], trees 1 and 2; Tile B (2x2): no canopy, no trees.
        let a = Tile(id: "a", width: 2, height: 2, bands: 3, groundSampleDistance: 0.1, pixels: [UInt8](repeating: 0, count: 12),
                     canopy: [1, 1, 0, 0], instances: [1, 2, 0, 0], trees: [])
        let b = Tile(id: "b", width: 2, height: 2, bands: 3, groundSampleDistance: 0.1, pixels: [UInt8](repeating: 0, count: 12),
                     canopy: [0, 0, 0, 0], instances: [0, 0, 0, 0], trees: [])
        func tree(_ x: Float, _ y: Float, _ pixels: [Int]) -> InstanceExtraction.Tree {
            InstanceExtraction.Tree(centreX: x, centreY: y, score: 1, pixels: pixels, areaSquareMetres: 0)
        }
        // A: predicted canopy [1,0,1,0], one tree centred on tree 1. B: predicted [0,0,0,1], one tree.
        let report = Evaluation.report(tiles: [a, b], canopy: [[true, false, true, false], [false, false, false, true]],
                                       trees: [[tree(0.5, 0.5, [0, 2])], [tree(1.5, 1.5, [3])]])
        // Intersection 1; union 3 (A) + 1 (B) = 4.
        #expect(report.canopyIoU == 0.25)
        #expect(report.allCanopyIoU == 2.0 / 8 && report.allBackgroundIoU == 0)
        #expect(report.truePositives == 1 && report.predictedTrees == 2 && report.trueTrees == 2)
        #expect(report.precision == 0.5 && report.recall == 0.5 && report.f1 == 0.5)
        // |1 - 2| + |1 - 0| over two tiles.
        #expect(report.countMeanAbsoluteError == 1)
        // Predicted 3 canopy pixels against 2 true.
        #expect(report.relativeCanopyAreaError == 0.5)
        let decoded = try? JSONDecoder().decode(EvaluationReport.self, from: JSONEncoder().encode(report))
        #expect(decoded == report)
    }

    @Test func evaluateRunsTheModelOnEveryTile() {
        let model = CanopyNet(settings: CanopyNet.Settings(baseWidth: 2, depth: 1))
        let tiles = [Fixtures.tile(id: "x", width: 16, height: 16, crowns: [(8, 8, 4)]),
                     Fixtures.tile(id: "y", width: 16, height: 16, crowns: [])]
        let report = Evaluation.evaluate(model: model, parameters: model.initialParameters(seed: 2), tiles: tiles)
        #expect(report.tiles == 2 && report.trueTrees == 1)
        #expect(report.allCanopyIoU == Double(tiles[0].canopy.filter { $0 == 1 }.count) / 512)
        #expect(report.canopyIoU >= 0 && report.canopyIoU <= 1)
    }
}
