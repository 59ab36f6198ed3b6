/// The shape every module's error type shares: a stable code for scripts, and a message for people
/// that names the offending value and where it came from.
public protocol GroveError: Error, CustomStringConvertible, Sendable {
    /// A short, stable, machine-readable code (`config.unknown-key`, `wire.truncated`, ...).
    var code: String { get }
    /// A human sentence naming the bad value and its origin.
    var message: String { get }
}

extension GroveError {
    public var description: String { "\(message) [\(code)]" }
}
