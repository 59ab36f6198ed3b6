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
        abstract: "Scores a checkpoint on a directory of tiles, or on a frozen manifest per site.",
        discussion: """
            Prints and writes as JSON: canopy IoU (with the all-background and all-canopy baselines), \
            tree detection precision, recall and F1 (a predicted centre matches a true tree when it \
            falls inside that tree's mask, one to one), count mean absolute error per tile, and \
            relative canopy-area error. The model is built from the configuration of the run the \
            checkpoint belongs to (its run directory's config.yaml), or from --config. With \
            --manifest the tiles are also scored per source and site, and the output says how many \
            of them the training manifest holds or comes within --margin pixels of (same image).
            """
    )

    @Option(name: .long, help: "A checkpoint directory (RUN_DIR/checkpoints/step-NNNNNN).")
    var checkpoint: String

    @Option(name: .long, help: "A tile directory (tiles.csv, images, masks, instances), like data/aerial-sample.")
    var data: String?

    @Option(name: .long, help: "A frozen manifest to score instead of --data; its tiles are also scored per site.")
    var manifest: String?

    @Option(name: .customLong("training-manifest"),
            help: "The manifest the checkpoint was trained on, to say which scored tiles it saw or came near (default: the run's dataset.manifest).")
    var trainingManifest: String?

    @Option(name: .long, help: "Scored tiles closer than this many pixels to a training tile of the same image are reported as near it.")
    var margin = 128

    @Option(name: .long, help: "The run's configuration (default: config.yaml of the checkpoint's run directory).")
    var config: String?

    @Option(name: .long, help: "Where to write the JSON report (default: evaluation.json in the checkpoint directory).")
    var output: String?

    @Option(name: .long, help: "Only the tiles of this split (the split column of tiles.csv); default all.")
    var split: String?

    func run() throws {
        let loaded = try CheckpointedCanopyNet.load(checkpoint: checkpoint, config: config, bands: nil, threads: nil)
        let (checkpointPath, settings) = (loaded.path, loaded.config)
        var tiles: [Tile]
        var groups: [(name: String, range: Range<Int>)] = []
        var notes: [String] = []
        let scored: String
        switch (data, manifest) {
        case let (data?, nil):
            let tileDirectory = try TileDirectory.open(data)
            tiles = try tileDirectory.loadAll().sorted { $0.id < $1.id }
            if let split {
                let ids = Set(tileDirectory.entries.filter { $0.split == split }.map(\.id))
                tiles = tiles.filter { ids.contains($0.id) }
            }
            scored = data
        case let (nil, manifest?):
            let held = try HeldOutTiles.load(manifest: manifest, training: trainingManifest ?? settings.dataset.manifest, margin: margin)
            (tiles, groups, notes) = (held.tiles, held.groups, held.notes)
            scored = manifest
        default:
            throw ValidationError("give exactly one of --data (a tile directory) and --manifest (a frozen manifest)")
        }
        guard let first = tiles.first else { throw ValidationError("no tiles to evaluate in \(scored)") }
        guard first.bands == loaded.net.inputBands else {
            throw ValidationError("the tiles of \(scored) have \(first.bands) bands; \(loaded.net.schemaName) of \(checkpointPath) takes \(loaded.net.inputBands)")
        }
        let (net, parameters) = (loaded.net, loaded.parameters)
        let (report, parts) = Evaluation.evaluate(model: net, parameters: parameters, tiles: tiles, parts: groups.map(\.range))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Without groups the JSON is the pooled report, as before; with them, the pooled report
        // and one per group.
        let json = groups.isEmpty ? try encoder.encode(report)
            : try encoder.encode(GroupedEvaluation(pooled: report, groups: Dictionary(uniqueKeysWithValues: zip(groups.map(\.name), parts)),
                                                   notes: notes))
        let destination = output ?? checkpointPath + "/evaluation.json"
        try json.write(to: URL(fileURLWithPath: destination))
        print("checkpoint \(checkpointPath) (step \(loaded.step)), \(report.tiles) tiles of \(scored)")
        for note in notes { print("note: \(note)") }
        print(Self.describe(report))
        for (group, part) in zip(groups, parts) {
            print("\(group.name), \(part.tiles) tiles:")
            print(Self.describe(part).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        }
        print("report: \(destination)")
    }

    static func describe(_ report: EvaluationReport) -> String {
        """
        canopy IoU \(String(format: "%.3f", report.canopyIoU)) (all background \(String(format: "%.3f", report.allBackgroundIoU)), all canopy \(String(format: "%.3f", report.allCanopyIoU)))
        trees: precision \(String(format: "%.3f", report.precision)), recall \(String(format: "%.3f", report.recall)), F1 \(String(format: "%.3f", report.f1)) (\(report.truePositives) of \(report.trueTrees) true trees found, \(report.predictedTrees) predicted)
        count error \(String(format: "%.2f", report.countMeanAbsoluteError)) trees per tile, canopy area error \(String(format: "%+.1f", report.relativeCanopyAreaError * 100)) %
        """
    }
}
