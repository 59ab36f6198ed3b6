import Checkpoint
import Config
import Core
import Foundation
import Testing
@testable import Training

/// `training.init_from`: a new run's state from a checkpoint, with a fresh or the checkpoint's
/// optimizer state, and clear refusals of what cannot be started from.
@Suite struct InitialStateTests {
    /// A store in a fresh temporary directory, and a checkpoint of `config`'s model after one
    /// update, so that its optimizer state is not zero.
    static func checkpoint(_ config: ClusterConfig = RunSetupTests.config(), step: Int = 7)
        throws -> (path: String, replica: Replica, root: String) {
        let root = NSTemporaryDirectory() + "grove-init-from-\(UUID().uuidString)"
        let setup = try RunSetup(config: config)
        var replica = Replica(layout: setup.model.layout, parameters: setup.model.initialParameters(seed: 3),
                              optimizer: try makeOptimizer(setup), committedStep: 0)
        let gradient = (0..<setup.model.layout.count).map { Float(($0 % 7) - 3) * 0.01 }
        replica.apply(sum: gradient, globalBatch: 1, step: .first)
        replica.commit(step: .first)
        let metadata = CheckpointMetadata(runName: "pilot", step: step, dataEpoch: 0, ledgerPosition: 0, seed: 3,
                                          datasetManifestHash: "d", configurationHash: config.canonicalHash)
        let info = try CheckpointStore(directory: root + "/checkpoints", keep: 2).write(Checkpoint(metadata: metadata, tensors: replica.tensors))
        return (info.path, replica, root)
    }

    static func load(_ path: String, _ choice: InitialState.OptimizerChoice,
                     config: ClusterConfig = RunSetupTests.config()) throws -> InitialState {
        let setup = try RunSetup(config: config)
        return try InitialState.load(path: path, optimizer: choice, layout: setup.model.layout, optimizerTemplate: try makeOptimizer(setup))
    }

    @Test func freshTakesTheWeightsAndAZeroOptimizer() throws {
        let (path, saved, root) = try Self.checkpoint()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let initial = try Self.load(path, .fresh)
        #expect(initial.replica.parameters == saved.parameters)
        #expect(initial.replica.committedStep == 0)
        #expect(initial.weightsSHA256 == saved.weightsHash)
        #expect((initial.runName, initial.step) == ("pilot", 7))
        let moments = initial.replica.optimizer.state.values
        #expect(!moments.isEmpty && moments.allSatisfy { $0.allSatisfy { $0 == 0 } })
    }

    @Test func checkpointTakesTheOptimizerStateToo() throws {
        let (path, saved, root) = try Self.checkpoint()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let initial = try Self.load(path, .checkpoint)
        #expect(initial.replica.parameters == saved.parameters)
        #expect(initial.replica.optimizer.state == saved.optimizer.state)
        #expect(saved.optimizer.state.values.contains { $0.contains { $0 != 0 } })
        // The two choices then train differently from the same weights.
        var fresh = try Self.load(path, .fresh).replica, moments = initial.replica
        let gradient = [Float](repeating: 0.01, count: saved.parameters.count)
        fresh.apply(sum: gradient, globalBatch: 1, step: .first)
        moments.apply(sum: gradient, globalBatch: 1, step: .first)
        #expect(fresh.parameters != moments.parameters)
    }

    @Test func aMissingDirectoryIsNamed() throws {
        #expect {
            _ = try Self.load("runs/nowhere/checkpoints/step-000010", .fresh)
        } throws: { error in
            let error = error as? TrainingError
            return error?.code == "init_from.missing" && error!.message.contains("training.init_from 'runs/nowhere/checkpoints/step-000010'")
        }
    }

    @Test func aDamagedCheckpointIsRefusedNotLoaded() throws {
        let (path, _, root) = try Self.checkpoint()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let weights = path + "/" + CheckpointStore.weightsFile
        var bytes = try Data(contentsOf: URL(fileURLWithPath: weights))
        bytes[bytes.count - 3] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: weights))
        #expect {
            _ = try Self.load(path, .fresh)
        } throws: { error in
            let error = error as? TrainingError
            return error?.code == "init_from.damaged" && error!.message.contains("training.init_from '\(path)'")
                && error!.message.contains("checksum")
        }
    }

    @Test func anotherModelsWeightsAreRefusedWithTheTensor() throws {
        var wide = RunSetupTests.config()
        wide.model.hidden = 48
        let (path, _, root) = try Self.checkpoint(wide)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect {
            _ = try Self.load(path, .fresh)
        } throws: { error in
            let error = error as? TrainingError
            return error?.code == "init_from.model" && error!.message.contains("training.init_from '\(path)'")
                && error!.message.contains("shape") && error!.message.contains("48")
        }
    }

    @Test func anotherOptimizersStateIsRefusedOnlyWhenAskedFor() throws {
        var sgd = RunSetupTests.config()
        sgd.training.optimizer = "sgd"
        let (path, saved, root) = try Self.checkpoint(sgd)
        defer { try? FileManager.default.removeItem(atPath: root) }
        // The run here uses adam: the checkpoint has no moments to continue from...
        #expect {
            _ = try Self.load(path, .checkpoint)
        } throws: { error in
            let error = error as? TrainingError
            return error?.code == "init_from.optimizer" && error!.message.contains("training.init_optimizer 'checkpoint'")
                && error!.message.contains("adam")
        }
        // ...but its weights are a fine start with a fresh state.
        #expect(try Self.load(path, .fresh).replica.parameters == saved.parameters)
    }
}
