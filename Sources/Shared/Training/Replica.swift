import Checkpoint
import Collective
import Config
import Core
import Model
import Optim
import Wire

/// One copy of the training state: parameters and optimizer state, identical on every worker
/// after every committed step.
///
/// A worker applies a step's update before the coordinator commits it; until the commit it keeps
/// the state from before the update, so that a step redone in a new generation starts from the
/// committed state and never applies twice.
public struct Replica: Sendable {
    public let layout: ParameterLayout
    public private(set) var parameters: [Float]
    public private(set) var optimizer: Optimizer
    /// Steps committed so far; the next step to run is `Step(after: committedStep)`.
    public private(set) var committedStep: Int
    /// The `fp16` mode's loss scale, which every replica adjusts the same way after every step (it
    /// travels with the state as `optim/loss_scale`); nil in the other modes.
    public var lossScale: DynamicLossScale?
    private var beforeUpdate: (step: Step, parameters: [Float], optimizer: Optimizer, lossScale: DynamicLossScale?)?

    /// The state tensor that carries `lossScale`.
    public static let lossScaleTensor = Checkpoint.optimizerPrefix + "loss_scale"

    public init(layout: ParameterLayout, parameters: [Float], optimizer: Optimizer, committedStep: Int) {
        precondition(parameters.count == layout.count, "parameters do not match the layout")
        self.layout = layout
        self.parameters = parameters
        self.optimizer = optimizer
        self.committedStep = committedStep
    }

    /// Makes the state ready to run `step`: undoes an uncommitted update of that same step.
    public mutating func prepare(step: Step) {
        if let saved = beforeUpdate, saved.step == step {
            parameters = saved.parameters
            optimizer = saved.optimizer
            lossScale = saved.lossScale
            beforeUpdate = nil
        }
    }

    /// Applies the summed gradient of `step`, divided by the global batch.
    public mutating func apply(sum: [Float], globalBatch: Int, step: Step) {
        precondition(sum.count == parameters.count, "gradient does not match the parameters")
        beforeUpdate = (step, parameters, optimizer, lossScale)
        optimizer.apply(gradient: sum, to: &parameters, step: step, gradientScale: 1 / Float(globalBatch))
        lossScale?.record(overflow: false)
    }

    /// `step`'s gradient sum overflowed (`fp16`): no update, and the loss scale backs off. Every
    /// replica saw the same overflow, so all of them skip the step and agree on the new scale; a
    /// redo of the step starts from before this (`prepare`).
    public mutating func skip(step: Step) {
        beforeUpdate = (step, parameters, optimizer, lossScale)
        lossScale?.record(overflow: true)
    }

    /// The coordinator committed `step`: the pre-update copy is no longer needed.
    public mutating func commit(step: Step) {
        if beforeUpdate?.step == step { beforeUpdate = nil }
        committedStep = max(committedStep, step.ordinal)
    }

    /// SHA-256 of the parameters as little-endian float32 in layout order, hex.
    public var weightsHash: String {
        parameters.withUnsafeBufferPointer { Checkpoint.weightsSHA256($0) }
    }

    // MARK: State transfer

    /// Named tensors: `param/<name>` per layout entry, then `optim/<name>` per optimizer buffer.
    public var tensors: [NamedTensor] {
        var result = layout.entries.map { entry in
            NamedTensor(name: Checkpoint.parameterPrefix + entry.name, shape: entry.shape,
                        values: Array(parameters[entry.offset..<entry.offset + entry.count]))
        }
        for (name, values) in optimizer.state.sorted(by: { $0.key < $1.key }) {
            result.append(NamedTensor(name: Checkpoint.optimizerPrefix + name, shape: [values.count], values: values))
        }
        if let lossScale {
            result.append(NamedTensor(name: Self.lossScaleTensor, shape: [2], values: lossScale.values))
        }
        return result
    }

    /// Rebuilds a replica from named tensors (a checkpoint or a state message).
    public init(layout: ParameterLayout, tensors: [NamedTensor], optimizer template: Optimizer, committedStep: Int) throws(TrainingError) {
        var parameters = [Float](repeating: 0, count: layout.count)
        for entry in layout.entries {
            guard let tensor = tensors.first(where: { $0.name == Checkpoint.parameterPrefix + entry.name }) else {
                throw TrainingError(code: "state.missing", "the state has no tensor \(Checkpoint.parameterPrefix + entry.name)")
            }
            guard tensor.values.count == entry.count else {
                throw TrainingError(code: "state.shape",
                                    "tensor \(tensor.name) has \(tensor.values.count) values, the model expects \(entry.count) (\(entry.shape))")
            }
            parameters.replaceSubrange(entry.offset..<entry.offset + entry.count, with: tensor.values)
        }
        var state: [String: [Float]] = [:]
        var lossScale: DynamicLossScale?
        for tensor in tensors where tensor.name.hasPrefix(Checkpoint.optimizerPrefix) {
            if tensor.name == Self.lossScaleTensor {
                guard let restored = DynamicLossScale(restoring: tensor.values) else {
                    throw TrainingError(code: "state.loss_scale", "tensor \(tensor.name) holds \(tensor.values), not a loss scale and a step count")
                }
                lossScale = restored
                continue
            }
            state[String(tensor.name.dropFirst(Checkpoint.optimizerPrefix.count))] = tensor.values
        }
        let optimizer: Optimizer
        do { optimizer = try Optimizer(settings: template.settings, parameterCount: layout.count, restoring: state) } catch {
            throw TrainingError(code: "state.optimizer", "the optimizer state does not fit: \(error.message)")
        }
        self.init(layout: layout, parameters: parameters, optimizer: optimizer, committedStep: committedStep)
        self.lossScale = lossScale
    }

    public var wireState: Wire.State {
        Wire.State(step: UInt64(committedStep), tensors: tensors.map { Wire.Tensor(name: $0.name, values: $0.values) })
    }

    /// The state after the last committed step: the copy from before an update that was applied
    /// and not yet committed, if there is one (a coordinator that stops, or refuses a non-finite
    /// step, asks for the last good state).
    public var committedWireState: Wire.State {
        guard let saved = beforeUpdate, saved.step == Step(after: committedStep) else { return wireState }
        var copy = self
        copy.parameters = saved.parameters
        copy.optimizer = saved.optimizer
        copy.lossScale = saved.lossScale
        copy.beforeUpdate = nil
        return copy.wireState
    }

    public init(layout: ParameterLayout, wire: Wire.State, optimizer template: Optimizer) throws(TrainingError) {
        let shapes = Dictionary(uniqueKeysWithValues: layout.entries.map { (Checkpoint.parameterPrefix + $0.name, $0.shape) })
        let tensors = wire.tensors.map { NamedTensor(name: $0.name, shape: shapes[$0.name] ?? [$0.values.count], values: $0.values) }
        try self.init(layout: layout, tensors: tensors, optimizer: template, committedStep: Int(wire.step))
    }
}
