import Core

/// Everything that can go wrong talking to an object store: a malformed `s3://` location, missing
/// credentials, a refusal from the server (with its own code and message), a failed connection.
public struct ObjectStoreError: GroveError, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// A location that is not `s3://BUCKET[/PREFIX]`, or an endpoint that is not a URL.
        case badLocation = "objectstore.bad-location"
        /// No access key, or a profile or credentials file that does not say one.
        case credentials = "objectstore.credentials"
        /// The server answered with an error status (403, 404 on a bucket, 5xx...).
        case server = "objectstore.server"
        /// The request did not get an answer (refused connection, timeout, TLS failure).
        case transport = "objectstore.transport"
        /// An answer that does not parse, or an object that is not what its manifest says.
        case badResponse = "objectstore.bad-response"
        /// A local file could not be read or written.
        case io = "objectstore.io"
    }

    public var kind: Kind
    public var message: String
    /// The HTTP status for `.server`, else nil.
    public var status: Int?
    public var code: String { kind.rawValue }

    public init(_ kind: Kind, _ message: String, status: Int? = nil) {
        self.kind = kind
        self.message = message
        self.status = status
    }
}
