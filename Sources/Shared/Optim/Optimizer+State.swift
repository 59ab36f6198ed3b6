extension Optimizer {
    /// The optimizer's state tensors by name (`momentum.velocity`, `adam.m`, `adam.v`), one element
    /// per parameter, for checkpoints. `sgd` has none. The step is not part of it: it is the
    /// committed step the checkpoint records anyway.
    public var state: [String: [Float]] {
        let names = settings.kind.stateNames
        var tensors: [String: [Float]] = [:]
        if names.count > 0 { tensors[names[0]] = first }
        if names.count > 1 { tensors[names[1]] = second }
        return tensors
    }

    /// An optimizer that continues from checkpointed state: the next `apply` at the committed step
    /// gives the same bits as the optimizer that was saved would have.
    ///
    /// The tensors must be exactly those of `settings.kind`, each with `parameterCount` finite
    /// elements (and `adam.v` non-negative); anything else is refused rather than repaired, since
    /// loading another optimizer's state would quietly change the run.
    public init(settings: OptimizerSettings, parameterCount: Int, restoring tensors: [String: [Float]]) throws(OptimError) {
        try self.init(settings: settings, parameterCount: parameterCount)
        let names = settings.kind.stateNames
        for name in tensors.keys.sorted() where !names.contains(name) {
            throw OptimError(.unexpectedState, subject: name,
                             expected: "only the \(settings.kind.rawValue) tensors [\(names.joined(separator: ", "))]",
                             found: "a tensor named \(name)")
        }
        for (index, name) in names.enumerated() {
            guard let values = tensors[name] else {
                throw OptimError(.missingState, subject: name, expected: "a tensor of \(parameterCount) elements",
                                 found: "none")
            }
            guard values.count == parameterCount else {
                throw OptimError(.stateSize, subject: name, expected: "\(parameterCount) elements",
                                 found: "\(values.count)")
            }
            if let bad = values.firstIndex(where: { !$0.isFinite || (name == "adam.v" && $0 < 0) }) {
                throw OptimError(.stateValue, subject: name,
                                 expected: name == "adam.v" ? "finite values >= 0" : "finite values",
                                 found: "\(values[bad]) at element \(bad)")
            }
            if index == 0 { first = values } else { second = values }
        }
    }
}
