import Checkpoint
import Model
import Optim
import Wire

extension Replica {
    /// The state as it streams to a joiner or to the coordinator: the same tensors, names and order
    /// as `wireState`, read from the replica's own arrays instead of copied out of them. Call it
    /// when the replica holds its committed state (after an install or a commit).
    public var image: StateImage {
        var segments = layout.entries.map { entry in
            StateImage.Segment(name: Checkpoint.parameterPrefix + entry.name, values: parameters, offset: entry.offset, count: entry.count)
        }
        for (name, values) in optimizer.state.sorted(by: { $0.key < $1.key }) {
            segments.append(StateImage.Segment(name: Checkpoint.optimizerPrefix + name, values: values))
        }
        if let lossScale {
            segments.append(StateImage.Segment(name: Self.lossScaleTensor, values: lossScale.values))
        }
        return StateImage(step: UInt64(committedStep), segments: segments)
    }

    /// The most float values a state of this model and optimizer holds: a streamed state that
    /// announces more is refused before anything is allocated for it.
    public static func valueBudget(layout: ParameterLayout, optimizer: Optimizer) -> Int {
        layout.count * (1 + optimizer.settings.kind.stateNames.count) + 2
    }
}
