import ArgumentParser
import Core
import Dataset
import Foundation
import Model
import Training

extension DatasetCommand {
    /// The curation loop's score pass: every sample of a manifest through a checkpoint's forward
    /// pass, its loss written to the catalog's `last_loss`, so that the next freeze can pick hard
    /// examples among samples the run never visited.
    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write each sample's loss under a CanopyNet checkpoint into the catalog (last_loss), for hard-example curation.",
            discussion: """
                The losses are recorded at a step after every visit the catalog holds (its largest \
                last_seen_step + 1, or --step), so a score replaces the losses of earlier runs, whose \
                step numbers restart at 1. Forward passes only: about a third of a training sample each.
                """)
        @Option(name: .long, help: "A checkpoint directory (RUN_DIR/checkpoints/step-NNNNNN).") var checkpoint: String
        @Option(name: .long, help: "The manifest whose samples to score; its catalog is the one written.") var manifest: String
        @Option(name: .long, help: "The run's configuration (default: config.yaml of the checkpoint's run directory).") var config: String?
        @Option(name: .long, help: "Samples per forward pass.") var batch = 16
        @Option(name: .long, help: "Compute threads (results do not depend on it).") var threads = ProcessInfo.processInfo.activeProcessorCount
        @Option(name: .long, help: "The step to record the losses at (default: after every recorded visit).") var step: Int?

        func validate() throws {
            guard batch >= 1 else { throw ValidationError("--batch is \(batch); expected at least 1") }
            guard threads >= 1 else { throw ValidationError("--threads is \(threads); expected at least 1") }
            if let step, step < 0 { throw ValidationError("--step is \(step); expected 0 or more") }
        }

        func run() throws {
            let clock = ContinuousClock(), began = clock.now
            let loaded = try CheckpointedCanopyNet.load(checkpoint: checkpoint, config: config, bands: nil, threads: threads)
            let frozen = try Manifest.load(manifest)
            let catalog = try Catalog(directory: Manifest.catalogDirectory(ofManifestAt: manifest), create: false)
            let recordStep = try step ?? catalog.newestVisitStep() + 1
            let samples = SampleSet.manifest(frozen.entries, source: catalog.source)
            var losses: [(sampleID: String, loss: Double, step: Int)] = []
            var total = 0.0
            for start in stride(from: 0, to: frozen.entries.count, by: batch) {
                let positions = Array(start..<min(frozen.entries.count, start + batch))
                let tiles = try samples.load(positions)
                for tile in tiles where tile.bands != loaded.net.inputBands || tile.width != tiles[0].width || tile.height != tiles[0].height {
                    throw ValidationError("sample \(tile.id) is \(tile.width)x\(tile.height) with \(tile.bands) bands; "
                                          + "\(loaded.net.schemaName) scores batches of equal tiles with \(loaded.net.inputBands)")
                }
                let batchLosses = loaded.parameters.withUnsafeBufferPointer { loaded.net.loss(parameters: $0, samples: tiles) }
                for (position, loss) in zip(positions, batchLosses) {
                    losses.append((frozen.entries[position].id, loss, recordStep))
                    total += loss
                }
            }
            try catalog.recordLosses(losses)
            let elapsed = (clock.now - began).inSeconds
            print("scored \(losses.count) samples of \(frozen.name) with \(loaded.net.schemaName) (checkpoint step \(loaded.step)) in "
                  + String(format: "%.1f s: mean loss %.4f, recorded at step %d", elapsed, total / Double(max(1, losses.count)), recordStep))
        }
    }
}
