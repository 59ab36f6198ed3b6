import Checkpoint
import Collective
import Core
import Testing
@testable import Training

/// The fp16 mode's loss scale as part of a replica's state: skipped on overflow, undone with the
/// step, and carried by checkpoints and state transfers.
@Suite struct ReplicaLossScaleTests {
    static func replica() throws -> Replica {
        let setup = try RunSetup(config: RunSetupTests.config())
        var replica = Replica(layout: setup.model.layout, parameters: setup.model.initialParameters(seed: 1),
                              optimizer: try makeOptimizer(setup), committedStep: 0)
        replica.lossScale = DynamicLossScale()
        return replica
    }

    @Test func anOverflowSkipsTheUpdateAndLowersTheScale() throws {
        var replica = try Self.replica()
        let before = replica.parameters
        replica.skip(step: .first)
        #expect(replica.parameters == before)
        #expect(replica.lossScale?.scale == 2048)
        // Redone in a new generation: the step starts from the scale it had.
        replica.prepare(step: .first)
        #expect(replica.lossScale?.scale == 4096)
        replica.apply(sum: [Float](repeating: 1, count: before.count), globalBatch: 4, step: .first)
        #expect(replica.parameters != before)
        #expect(replica.lossScale?.cleanSteps == 1)
    }

    @Test func theScaleTravelsWithTheState() throws {
        var replica = try Self.replica()
        replica.skip(step: .first)
        replica.commit(step: .first)
        let setup = try RunSetup(config: RunSetupTests.config())
        let restored = try Replica(layout: setup.model.layout, wire: replica.wireState, optimizer: try makeOptimizer(setup))
        #expect(restored.lossScale == replica.lossScale)
        #expect(restored.parameters == replica.parameters)
        // Without a scale (the other modes) the state has no such tensor.
        var plain = replica
        plain.lossScale = nil
        #expect(!plain.tensors.contains { $0.name == Replica.lossScaleTensor })
        #expect(replica.tensors.contains { $0.name == Replica.lossScaleTensor })
    }

    @Test func aDamagedScaleIsRefusedByName() throws {
        let replica = try Self.replica()
        let setup = try RunSetup(config: RunSetupTests.config())
        let tensors = replica.tensors.map { tensor in
            tensor.name == Replica.lossScaleTensor ? NamedTensor(name: tensor.name, shape: [2], values: [-3, 0.5]) : tensor
        }
        #expect {
            _ = try Replica(layout: setup.model.layout, tensors: tensors, optimizer: try makeOptimizer(setup), committedStep: 1)
        } throws: { error in
            (error as? TrainingError)?.code == "state.loss_scale" && "\(error)".contains("loss_scale")
        }
    }
}
