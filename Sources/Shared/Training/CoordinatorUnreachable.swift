import Core

/// Nobody answered a worker's hello at the coordinator's address within the connect timeout.
///
/// ZeroMQ connects in the background and retries forever, so a wrong address or a coordinator
/// that is not running looks like silence: this says so, instead of "lost the coordinator".
public struct CoordinatorUnreachable: GroveError {
    public var endpoint: String
    public var waited: Duration

    public init(endpoint: String, waited: Duration) {
        self.endpoint = endpoint
        self.waited = waited
    }

    public var code: String { "worker.unreachable" }
    public var message: String {
        "nobody answered at \(endpoint.escapedForLog) within \(waited.inSeconds) s (--connect-timeout): "
            + "is a coordinator running there, and can this machine reach it? (A coordinator with keys answers only a worker "
            + "whose key it authorizes: --key, and its authorized_keys.)"
    }
}
