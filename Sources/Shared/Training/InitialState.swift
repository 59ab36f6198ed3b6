import Checkpoint
import Foundation
import Model
import Optim

/// The state a new run starts from when `training.init_from` names a checkpoint: that
/// checkpoint's parameters, with a zero optimizer state or the checkpoint's own, at step 0 of the
/// new run.
///
/// Only the coordinator reads the checkpoint; workers receive the state from it as at any start,
/// so in exact mode the same checkpoint gives the same bits for any number of workers. Steps, the
/// learning-rate schedule and Adam's bias correction start again from step 1 either way: with
/// `checkpoint` the moments carry over, and the first updates are scaled by the restarted bias
/// correction (about 0.3 of a continued run's at step 1 with the default betas).
public struct InitialState: Sendable {
    public enum OptimizerChoice: String, Sendable, CaseIterable {
        /// A zero optimizer state, as at a random initialisation.
        case fresh
        /// The checkpoint's optimizer tensors (moments, and `fp16`'s loss scale).
        case checkpoint
    }

    /// The checkpoint directory, as `training.init_from` names it.
    public let checkpoint: String
    public let optimizer: OptimizerChoice
    /// The run and step the checkpoint was taken at.
    public let runName: String
    public let step: Int
    /// The starting weights, as `summary.json` and the checkpoints record weights.
    public let weightsSHA256: String
    /// The state itself, at committed step 0.
    public let replica: Replica

    /// Loads and checks the checkpoint at `path` for a model of `layout`.
    ///
    /// - Throws: `TrainingError` naming `training.init_from` and the path: `init_from.missing`
    ///   (no such directory), `init_from.damaged` (it does not verify), `init_from.model` (the
    ///   parameters of another model or shape), `init_from.optimizer` (`checkpoint` chosen and
    ///   the checkpoint's optimizer state does not fit this run's optimizer).
    public static func load(path: String, optimizer: OptimizerChoice, layout: ParameterLayout,
                            optimizerTemplate: Optimizer) throws(TrainingError) -> InitialState {
        let setting = "training.init_from '\(path)'"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TrainingError(code: "init_from.missing",
                                "\(setting): no such checkpoint directory (expected RUN_DIR/checkpoints/step-NNNNNN)")
        }
        let standardized = URL(fileURLWithPath: path).standardizedFileURL
        let store = CheckpointStore(directory: standardized.deletingLastPathComponent().path, keep: 1)
        let loaded: Checkpoint
        do {
            loaded = try store.load(path: standardized.path).checkpoint
        } catch let error as CheckpointError {
            throw TrainingError(code: "init_from.damaged", "\(setting) does not verify: \(error.message) [\(error.code)]")
        } catch {
            throw TrainingError(code: "init_from.damaged", "\(setting) cannot be read: \(error)")
        }
        let parameters = loaded.tensors.filter { $0.name.hasPrefix(Checkpoint.parameterPrefix) }
        if let problem = mismatch(parameters, layout: layout) {
            throw TrainingError(code: "init_from.model", "\(setting) holds the weights of another model: \(problem); "
                                + "model.* must describe the model the checkpoint was trained as")
        }
        let replica: Replica
        switch optimizer {
        case .fresh:
            // `mismatch` found every layout entry with its shape: the flat buffer is complete.
            var flat = [Float](repeating: 0, count: layout.count)
            let byName = Dictionary(parameters.map { ($0.name, $0.values) }, uniquingKeysWith: { first, _ in first })
            for entry in layout.entries {
                flat.replaceSubrange(entry.offset..<entry.offset + entry.count, with: byName[Checkpoint.parameterPrefix + entry.name]!)
            }
            replica = Replica(layout: layout, parameters: flat, optimizer: optimizerTemplate, committedStep: 0)
        case .checkpoint:
            do {
                replica = try Replica(layout: layout, tensors: loaded.tensors, optimizer: optimizerTemplate, committedStep: 0)
            } catch {
                throw TrainingError(code: "init_from.optimizer",
                                    "\(setting) with training.init_optimizer 'checkpoint': \(error.message) "
                                    + "(training.optimizer here is \(optimizerTemplate.settings.kind.rawValue); "
                                    + "init_optimizer 'fresh' starts with a zero state instead)")
            }
        }
        return InitialState(checkpoint: path, optimizer: optimizer, runName: loaded.metadata.runName, step: loaded.metadata.step,
                            weightsSHA256: replica.weightsHash, replica: replica)
    }

    /// The first difference between a checkpoint's parameter tensors and a layout, or nil.
    static func mismatch(_ tensors: [NamedTensor], layout: ParameterLayout) -> String? {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for entry in layout.entries {
            let name = Checkpoint.parameterPrefix + entry.name
            guard let tensor = byName[name] else {
                return "it has no tensor \(name) (\(tensors.count) parameter tensors; this model has \(layout.entries.count))"
            }
            guard tensor.shape == entry.shape else {
                return "tensor \(name) has shape \(tensor.shape), this model's has \(entry.shape)"
            }
        }
        let expected = Set(layout.entries.map { Checkpoint.parameterPrefix + $0.name })
        if let extra = tensors.map(\.name).sorted().first(where: { !expected.contains($0) }) {
            return "it has a tensor \(extra) this model lacks"
        }
        return nil
    }
}
