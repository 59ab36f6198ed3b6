import Dataset
import Dispatch
import Model
import Tensor

/// `tensor-bench [gemm|conv|train|fit|augment|info|stats] [data directory] [fit: steps lr width]
/// | [train: --threads N ... --batch B --seconds S]`: prints measurements, asserts nothing.
let arguments = CommandLine.arguments
let command = arguments.count > 1 ? arguments[1] : "all"
let dataPath = arguments.count > 2 ? arguments[2] : "data/aerial-sample"

switch command {
case "stats":
    let tiles = try TileDirectory.open(dataPath).loadAll()
    var sums = [Double](repeating: 0, count: 3)
    for tile in tiles { for b in 0..<3 { for p in 0..<tile.pixelCount { sums[b] += Double(tile.pixels[b * tile.pixelCount + p]) / 255 } } }
    print("band means:", sums.map { $0 / Double(tiles.count * 128 * 128) })
case "info":
    for width in [4, 8, 16] {
        let model = CanopyNet(settings: CanopyNet.Settings(baseWidth: width))
        let flops = model.flopsPerSample()
        print("\(model.schemaName): \(model.parameterCount) parameters, "
              + "\(String(format: "%.1f", Double(flops.forward) * 1e-6)) MFLOP forward, "
              + "\(String(format: "%.1f", Double(flops.training) * 1e-6)) MFLOP per training sample (128x128)")
    }
case "conv":
    ConvBenchmark.report()
case "gemm":
    GemmBenchmark.report()
case "fit":
    let steps = arguments.count > 3 ? Int(arguments[3])! : 100
    let lr = arguments.count > 4 ? Float(arguments[4])! : 3e-3
    let width = arguments.count > 5 ? Int(arguments[5])! : 8
    TrainingBenchmark.fit(dataPath: dataPath, steps: steps, batchSize: 4, learningRate: lr,
                          settings: CanopyNet.Settings(baseWidth: width, threads: 2))
case "augment":
    AugmentBenchmark.report(dataPath: dataPath)
case "train":
    TrainingBenchmark.report(dataPath: dataPath, options: .init(arguments.dropFirst(3)))
default:
    GemmBenchmark.report()
    TrainingBenchmark.report(dataPath: dataPath, options: .init([]))
}
