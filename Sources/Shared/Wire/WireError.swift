import Core

/// A frame that cannot be decoded: wrong magic, another major version, an unknown kind, a field
/// that runs past the end, a count beyond its limit. The message names the kind and the field.
public struct WireError: GroveError, Equatable {
    public var code: String
    public var message: String

    public init(code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}
