/// The update rules Grove implements. Raw values are the names `training.optimizer` accepts in
/// `cluster.yaml`, so `OptimizerKind(rawValue: config.training.optimizer)` maps one to the other.
public enum OptimizerKind: String, Sendable, CaseIterable {
    /// Plain stochastic gradient descent; weight decay is an L2 term added to the gradient.
    case sgd
    /// SGD with heavy-ball momentum (one velocity buffer); weight decay as for `sgd`.
    case momentum
    /// Adam with bias correction; weight decay is decoupled (AdamW).
    case adam

    /// The names of the state tensors this rule keeps, in checkpoint order.
    public var stateNames: [String] {
        switch self {
        case .sgd: []
        case .momentum: ["momentum.velocity"]
        case .adam: ["adam.m", "adam.v"]
        }
    }
}
