import Core

/// A request the model module cannot carry out (a prediction's sizes, an export), naming the
/// offending value.
public struct ModelError: GroveError {
    public var code: String
    public var message: String

    public init(code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}
