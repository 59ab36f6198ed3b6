import ArgumentParser
import Checkpoint
import Config
import Foundation
import Model
import Training

/// A CanopyNet and its weights from a checkpoint directory, built from the configuration of the
/// run the checkpoint belongs to (its run directory's `config.yaml`) or from a given one.
struct CheckpointedCanopyNet {
    var net: CanopyNet
    var parameters: [Float]
    var step: Int
    var path: String
    /// The configuration the model was built from.
    var config: ClusterConfig

    /// - Parameters:
    ///   - bands: the input bands; nil reads them from the checkpoint's first convolution.
    ///   - threads: threads per kernel (results do not depend on it); nil keeps the run's.
    static func load(checkpoint: String, config: String?, bands: Int?, threads: Int?) throws -> CheckpointedCanopyNet {
        let checkpointPath = URL(fileURLWithPath: checkpoint).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: checkpointPath) else {
            throw ValidationError("checkpoint \(checkpoint) does not exist (expected RUN_DIR/checkpoints/step-NNNNNN)")
        }
        let runDirectory = URL(fileURLWithPath: checkpointPath).deletingLastPathComponent().deletingLastPathComponent().path
        let configPath = config ?? runDirectory + "/config.yaml"
        var settings: ClusterConfig
        do { settings = try ClusterConfig.load(path: configPath) } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(ConfigError.exitCode)
        }
        if let threads { settings.model.threads = threads }
        let store = CheckpointStore(directory: URL(fileURLWithPath: checkpointPath).deletingLastPathComponent().path, keep: 1)
        let (loaded, info) = try store.load(path: checkpointPath)
        let firstWeight = loaded.tensor(named: Checkpoint.parameterPrefix + "enc0.conv1.weight")
        let inputBands = bands ?? firstWeight.map { $0.shape.count == 4 ? $0.shape[1] : 3 } ?? 3
        let model = try ModelFactory.make(settings.model, bands: inputBands)
        guard let net = model as? CanopyNet else {
            throw ValidationError("model \(model.schemaName) of \(configPath) is not canopy-net; only CanopyNet checkpoints can be used here")
        }
        let parameters = loaded.flatValues(prefix: Checkpoint.parameterPrefix)
        guard parameters.count == net.layout.count else {
            throw ValidationError("checkpoint \(checkpointPath) has \(parameters.count) parameters; \(net.schemaName) has \(net.layout.count)")
        }
        return CheckpointedCanopyNet(net: net, parameters: parameters, step: info.step, path: checkpointPath, config: settings)
    }
}
