import Core

/// A key, key file or security setting Grove refuses; the message names the file or setting.
public struct SecurityError: GroveError, Equatable {
    public var code: String
    public var message: String

    public init(code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}
