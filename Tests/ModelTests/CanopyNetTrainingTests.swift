import Core
import Dataset
import Foundation
import Testing
@testable import Model

/// A short real training run on the shipped aerial tiles: the model must beat both trivial canopy
/// predictions on tiles it never saw. Runs only in optimised builds
/// (`swift test -c release -Xswiftc -enable-testing --filter ModelTests`), where it takes seconds.
struct CanopyNetTrainingTests {
    /// The shipped sample, found from this source file's location in the package.
    static var samplePath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/aerial-sample").path
    }

    @Test(.enabled(if: !Fixtures.isDebugBuild, "trains for minutes without optimisation"))
    func shortTrainingBeatsTrivialBaselinesOnHeldOutTiles() throws {
        let tiles = try TileDirectory.open(Self.samplePath).loadAll().sorted { $0.id < $1.id }
        try #require(tiles.count >= 40, "expected the shipped sample at \(Self.samplePath)")
        // Every fourth tile is held out; the rest train, in a seeded order.
        let heldOut = tiles.enumerated().filter { $0.offset % 4 == 3 }.map(\.element)
        let training = tiles.enumerated().filter { $0.offset % 4 != 3 }.map(\.element)
        let model = CanopyNet(settings: CanopyNet.Settings(baseWidth: 4, depth: 3, threads: 2))
        var parameters = model.initialParameters(seed: 1)
        var trainer = CanopyNet.ReferenceTrainer(parameterCount: model.parameterCount, learningRate: 1e-2)
        let before = Evaluation.evaluate(model: model, parameters: parameters, tiles: heldOut)
        var order: [Int] = []
        var losses: [Float] = []
        for step in 0..<60 {
            var batch: [Tile] = []
            for _ in 0..<4 {
                if order.isEmpty { order = SplitMixOrder.permutation(training.count, seed: UInt64(step)) }
                batch.append(training[order.removeLast()])
            }
            losses.append(trainer.train(model, parameters: &parameters, batch: batch))
        }
        let report = Evaluation.evaluate(model: model, parameters: parameters, tiles: heldOut)
        let early: Float = losses.prefix(10).reduce(0, +), late: Float = losses.suffix(10).reduce(0, +)
        #expect(late < early * 0.8, "loss did not fall: \(losses)")
        #expect(report.canopyIoU > report.allCanopyIoU + 0.08, "IoU \(report.canopyIoU) vs all-canopy \(report.allCanopyIoU)")
        #expect(report.canopyIoU > report.allBackgroundIoU + 0.3, "IoU \(report.canopyIoU) vs all-background \(report.allBackgroundIoU)")
        #expect(report.canopyIoU > before.canopyIoU, "IoU \(report.canopyIoU) is no better than untrained \(before.canopyIoU)")
        #expect(report.recall > 0.3, "tree recall \(report.recall)")
    }
}

enum SplitMixOrder {
    static func permutation(_ count: Int, seed: UInt64) -> [Int] {
        SplitMix64.permutation(count: count, seed: seed)
    }
}
