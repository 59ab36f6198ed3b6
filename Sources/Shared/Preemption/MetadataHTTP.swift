import Core
import Foundation

/// Where a metadata service listens: `http://host[:port]`, nothing else.
///
/// Metadata services speak plain HTTP on a link-local address, so there is no TLS, no path prefix
/// and no proxy: a URL with any of those is a configuration mistake and is refused up front.
public struct MetadataEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    /// Parses `text`; `origin` names where it came from (a settings key) for the error message.
    public init(_ text: String, origin: String) throws(PreemptionError) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard rest.lowercased().hasPrefix("http://") else {
            throw PreemptionError(code: "preempt.settings",
                                  "\(origin) '\(text)' must start with http:// (metadata services speak plain HTTP)")
        }
        rest = rest.dropFirst("http://".count)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("?"), !rest.contains("@") else {
            throw PreemptionError(code: "preempt.settings",
                                  "\(origin) '\(text)' must be http://host[:port] with no path, query or user")
        }
        var hostPart = rest
        var port: UInt16 = 80
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let parsed = UInt16(rest[rest.index(after: colon)...]), parsed > 0 else {
                throw PreemptionError(code: "preempt.settings",
                                      "\(origin) '\(text)' has a port that is not a number in 1...65535")
            }
            port = parsed
            hostPart = rest[..<colon]
        }
        if hostPart.hasPrefix("[") && hostPart.hasSuffix("]") { hostPart = hostPart.dropFirst().dropLast() }
        guard !hostPart.isEmpty else {
            throw PreemptionError(code: "preempt.settings", "\(origin) '\(text)' has no host")
        }
        host = String(hostPart)
        self.port = port
    }

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }
}

/// One HTTP request to a metadata service.
public struct MetadataRequest: Sendable, Equatable {
    public var method: String
    /// Path and query, e.g. `/latest/meta-data/spot/instance-action`.
    public var target: String
    /// Extra headers in the order they are sent (`Host`, `Content-Length` and `Connection` are
    /// added by the client).
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, target: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    public static func == (a: MetadataRequest, b: MetadataRequest) -> Bool {
        a.method == b.method && a.target == b.target && a.body == b.body
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }
}

/// One HTTP response, body already de-chunked.
public struct MetadataResponse: Sendable, Equatable {
    public var status: Int
    /// Header values by lower-cased name (a repeated header keeps its last value).
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body as UTF-8 text (invalid bytes replaced), for parsing small text values and errors.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The first `limit` characters of the body, for error messages.
    /// The body's first `limit` characters, escaped for a log line: the body comes from a
    /// metadata service (or whatever answers at its address) and ends up in warnings.
    public func excerpt(_ limit: Int = 120) -> String {
        let all = text
        return (all.count <= limit ? all : String(all.prefix(limit)) + "…").escapedForLog
    }
}

/// Sends one request and returns the whole response, or throws; never waits past `timeout`.
///
/// The watchers talk to the network only through this, so that their logic can be driven by a
/// fake and the real client can be swapped without touching them.
public protocol MetadataClient: Sendable {
    func send(_ request: MetadataRequest, to endpoint: MetadataEndpoint, timeout: Duration) throws(PreemptionError) -> MetadataResponse
}
