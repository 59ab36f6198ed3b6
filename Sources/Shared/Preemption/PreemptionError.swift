import Core

/// Everything that can go wrong while looking for a preemption notice. None of these stop a
/// watcher: they are reported through its problem callback and the next poll tries again.
public struct PreemptionError: GroveError {
    /// `preempt.settings`, `preempt.connect`, `preempt.timeout`, `preempt.http-status`,
    /// `preempt.malformed`, `preempt.signal`, ...
    public var code: String
    public var message: String

    public init(code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}
