import ArgumentParser
import Checkpoint
import Config
import Dataset
import Foundation
import Model
import Training

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Scores a checkpoint on a directory of tiles with masks and instance ids.",
        discussion: """
            Prints and writes as JSON: canopy IoU (with the all-background and all-canopy baselines), \
            tree detection precision, recall and F1 (a predicted centre matches a true tree when it \
            falls inside that tree's mask, one to one), count mean absolute error per tile, and \
            relative canopy-area error. The model is built from the configuration of the run the \
            checkpoint belongs to (its run directory's config.yaml), or from --config.
            """
    )

    @Option(name: .long, help: "A checkpoint directory (RUN_DIR/checkpoints/step-NNNNNN).")
    var checkpoint: String

    @Option(name: .long, help: "A tile directory (tiles.csv, images, masks, instances), like data/aerial-sample.")
    var data: String

    @Option(name: .long, help: "The run's configuration (default: config.yaml of the checkpoint's run directory).")
    var config: String?

    @Option(name: .long, help: "Where to write the JSON report (default: evaluation.json in the checkpoint directory).")
    var output: String?

    @Option(name: .long, help: "Only the tiles of this split (the split column of tiles.csv); default all.")
    var split: String?

    func run() throws {
        let checkpointPath = URL(fileURLWithPath: checkpoint).standardizedFileURL.path
        let runDirectory = URL(fileURLWithPath: checkpointPath).deletingLastPathComponent().deletingLastPathComponent().path
        let configPath = config ?? runDirectory + "/config.yaml"
        let settings: ClusterConfig
        do { settings = try ClusterConfig.load(path: configPath) } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(ConfigError.exitCode)
        }
        let directory = CheckpointStore(directory: URL(fileURLWithPath: checkpointPath).deletingLastPathComponent().path, keep: 1)
        let (loaded, info) = try directory.load(path: checkpointPath)
        let tileDirectory = try TileDirectory.open(data)
        var tiles = try tileDirectory.loadAll().sorted { $0.id < $1.id }
        if let split {
            let ids = Set(tileDirectory.entries.filter { $0.split == split }.map(\.id))
            tiles = tiles.filter { ids.contains($0.id) }
        }
        guard let first = tiles.first else { throw ValidationError("no tiles to evaluate in \(data)") }
        let model = try ModelFactory.make(settings.model, bands: first.bands)
        guard let net = model as? CanopyNet else {
            throw ValidationError("model \(model.schemaName) does not find trees; evaluate scores canopy-net checkpoints")
        }
        let parameters = loaded.flatValues(prefix: Checkpoint.parameterPrefix)
        guard parameters.count == net.layout.count else {
            throw ValidationError("checkpoint \(checkpointPath) has \(parameters.count) parameters; \(net.schemaName) has \(net.layout.count)")
        }
        let report = Evaluation.evaluate(model: net, parameters: parameters, tiles: tiles)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try encoder.encode(report)
        let destination = output ?? checkpointPath + "/evaluation.json"
        try json.write(to: URL(fileURLWithPath: destination))
        print("""
            checkpoint \(checkpointPath) (step \(info.step)), \(report.tiles) tiles of \(data)
            canopy IoU \(String(format: "%.3f", report.canopyIoU)) (all background \(String(format: "%.3f", report.allBackgroundIoU)), all canopy \(String(format: "%.3f", report.allCanopyIoU)))
            trees: precision \(String(format: "%.3f", report.precision)), recall \(String(format: "%.3f", report.recall)), F1 \(String(format: "%.3f", report.f1)) (\(report.truePositives) of \(report.trueTrees) true trees found, \(report.predictedTrees) predicted)
            count error \(String(format: "%.2f", report.countMeanAbsoluteError)) trees per tile, canopy area error \(String(format: "%+.1f", report.relativeCanopyAreaError * 100)) %
            report: \(destination)
            """)
    }
}
