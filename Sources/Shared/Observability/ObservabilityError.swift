import Core

/// Everything that can go wrong while writing metrics, traces or serving the status endpoint.
///
/// Messages name the offending value (a metric name, a file path, a socket address) so that an
/// operator can tell which output failed without reading the code.
public struct ObservabilityError: GroveError, Equatable {
    /// The class of failure; `code` is derived from it and is stable for scripts.
    public enum Kind: String, Sendable, Equatable {
        /// A metric or label name that the Prometheus text format does not allow.
        case invalidMetricName = "observability.invalid-metric-name"
        /// One metric name used with two types (a gauge and a counter).
        case conflictingMetricType = "observability.conflicting-metric-type"
        /// A file could not be created, written or closed.
        case io = "observability.io"
        /// A socket call of the status server failed.
        case socket = "observability.socket"
        /// A setting is out of its documented range.
        case invalidSetting = "observability.invalid-setting"
    }

    public var kind: Kind
    public var message: String
    public var code: String { kind.rawValue }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}
