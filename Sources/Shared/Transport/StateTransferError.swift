import Core

/// A state transfer that failed: the server refused, went silent, or sent bytes that do not
/// make the state it announced. The message names the server and what was wrong.
public struct StateTransferError: GroveError, Equatable {
    public var code: String
    public var message: String

    public init(code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}
