import ArgumentParser
import Core
import Foundation
import Model

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Writes a CanopyNet checkpoint as an ONNX model that runs outside Grove (onnxruntime, opset 17).",
        discussion: """
            Input `image`: float32 [batch, bands, height, width], raw pixel values 0-255, sides multiples \
            of 2^model.depth. Outputs float32 [batch, 2, height, width]: `logits` and `probabilities`; \
            channel 0 is canopy, channel 1 the tree-centre heatmap. docs/model.md gives the agreement \
            with Grove's own forward pass.
            """
    )

    @Option(name: .long, help: "A checkpoint directory (RUN_DIR/checkpoints/step-NNNNNN).")
    var checkpoint: String

    @Option(name: .long, help: "The ONNX file to write.")
    var onnx: String

    @Option(name: .long, help: "The run's configuration (default: config.yaml of the checkpoint's run directory).")
    var config: String?

    func run() throws {
        let loaded = try CheckpointedCanopyNet.load(checkpoint: checkpoint, config: config, bands: nil, threads: nil)
        let bytes = loaded.net.onnxModel(parameters: loaded.parameters, producerVersion: GroveVersion.string,
                                         metadata: [("grove_checkpoint_step", String(loaded.step))])
        do { try Data(bytes).write(to: URL(fileURLWithPath: onnx), options: .atomic) } catch {
            throw ValidationError("cannot write \(onnx): \(error.localizedDescription)")
        }
        print("wrote \(onnx): \(loaded.net.schemaName), checkpoint step \(loaded.step), \(loaded.net.layout.count) parameters, "
              + "\(bytes.count) bytes, ONNX opset \(CanopyNet.onnxOpset)")
        print("input image [batch, \(loaded.net.inputBands), height, width] (pixels 0-255, sides multiples of \(1 << loaded.net.settings.depth)); "
              + "outputs logits, probabilities [batch, 2, height, width] (canopy, tree centres)")
    }
}
