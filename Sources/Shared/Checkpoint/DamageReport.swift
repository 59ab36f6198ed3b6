/// A checkpoint directory that was skipped while looking for the newest verified checkpoint.
///
/// Damage is reported, never repaired: the directory stays where it is for an operator to look
/// at, until retention removes it with the checkpoints older than those it keeps.
public struct DamageReport: Sendable, Equatable, CustomStringConvertible {
    /// The checkpoint directory.
    public var path: String
    /// The step its directory name claims.
    public var step: Int
    /// Why it was refused; `error.kind` is `.incomplete` when the manifest is missing.
    public var error: CheckpointError

    public init(path: String, step: Int, error: CheckpointError) {
        self.path = path
        self.step = step
        self.error = error
    }

    public var reason: String { error.message }
    public var description: String { "\(path): \(error.description)" }
}
