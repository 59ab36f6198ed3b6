import Dataset
import Model

/// What training-tile augmentation costs next to what the tile is for: thread CPU time per tile of
/// each transform, against one CanopyNet training sample (forward and backward, one thread,
/// default width) measured in the same invocation on the same tiles.
enum AugmentBenchmark {
    static func report(dataPath: String) {
        let tiles: [Tile]
        do { tiles = try TileDirectory.open(dataPath).loadAll() } catch { print("cannot load \(dataPath): \(error)"); return }
        let batch = Array(tiles.prefix(4))
        let model = CanopyNet(settings: CanopyNet.Settings(threads: 1))
        var parameters = model.initialParameters(seed: 1)
        var trainer = CanopyNet.ReferenceTrainer(parameterCount: model.parameterCount)
        trainer.train(model, parameters: &parameters, batch: batch)  // first allocations
        let steps = 5
        let training = Stopwatch.measure { for _ in 0..<steps { trainer.train(model, parameters: &parameters, batch: batch) } }
        let perSample = training.cpu / Double(steps * batch.count)
        print("reference: CanopyNet training sample (forward + backward + Adam, 1 thread): \(String(format: "%.2f", perSample * 1e3)) ms CPU")
        let kinds: [(String, TileAugmentation)] = [
            ("flip + rotate90", TileAugmentation(flip: true, rotate90: true)),
            ("photometric", TileAugmentation(brightness: 0.1, contrast: 0.2, bandGain: 0.1)),
            ("all", TileAugmentation(flip: true, rotate90: true, brightness: 0.1, contrast: 0.2, bandGain: 0.1)),
        ]
        for (name, augmentation) in kinds {
            var checksum = 0
            let rounds = 20
            let time = Stopwatch.measure {
                for round in 0..<rounds {
                    for (index, tile) in tiles.enumerated() {
                        checksum &+= Int(augmentation.apply(to: tile, seed: 1, sample: index, dataEpoch: round).pixels[0])
                    }
                }
            }
            let perTile = time.cpu / Double(rounds * tiles.count)
            print("augment \(name): \(String(format: "%.3f", perTile * 1e3)) ms CPU per 128x128 tile, "
                  + "\(String(format: "%.2f", 100 * perTile / perSample)) % of a training sample (checksum \(checksum))")
        }
    }
}
