import Dataset
import Dispatch
import Model

/// CanopyNet training throughput on the shipped tiles, with 1 and 2 threads.
enum TrainingBenchmark {
    static func report(dataPath: String) {
        let tiles: [Tile]
        do { tiles = try TileDirectory.open(dataPath).loadAll() } catch { print("cannot load \(dataPath): \(error)"); return }
        for threads in [1, 2] {
            let model = CanopyNet(settings: CanopyNet.Settings(threads: threads))
            var parameters = model.initialParameters(seed: 1)
            var trainer = CanopyNet.ReferenceTrainer(parameterCount: model.parameterCount)
            let batch = Array(tiles.prefix(4))
            trainer.train(model, parameters: &parameters, batch: batch)
            let steps = 5
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<steps { trainer.train(model, parameters: &parameters, batch: batch) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            let samplesPerSecond = Double(steps * batch.count) / seconds
            let gflops = samplesPerSecond * Double(model.flopsPerSample().training) * 1e-9
            print("train threads=\(threads): \(String(format: "%.2f", samplesPerSecond)) samples/s, conv \(String(format: "%.1f", gflops)) GFLOP/s")
        }
    }
}
