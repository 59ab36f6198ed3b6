import Core

/// Everything that can be wrong with a sample, a directory of tiles, a catalog or a manifest.
public struct DatasetError: GroveError {
    public var code: String
    public var message: String

    public init(code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}
