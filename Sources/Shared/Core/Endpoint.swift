import Foundation

/// A TCP endpoint as ZeroMQ writes it: `tcp://HOST:PORT`, with IPv6 literals in brackets
/// (`tcp://[::1]:7070`) and `*` for a port the system picks.
///
/// Every address a process binds or dials goes through `parse` first, so that a typo is refused
/// with the value and where it came from instead of reaching libzmq, which answers a malformed
/// endpoint with a bare `EINVAL` (or, for a missing `tcp://`, with nothing useful at all).
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// The host without brackets: an IPv4 or IPv6 literal, a host name, or `*` (every interface).
    public let host: String
    /// The port; nil for `*` (bind only: the system picks one).
    public let port: UInt16?

    /// An endpoint from parts that are already known to be valid; `host` may be an IPv6 literal
    /// without brackets.
    public init(host: String, port: UInt16?) throws(EndpointError) {
        guard Self.isValidHost(host) else {
            throw EndpointError(value: host, origin: "host", problem: "is not an IPv4 or IPv6 address or a host name")
        }
        self.host = host
        self.port = port
    }

    /// Whether the host is an IPv6 literal: libzmq then needs `ZMQ_IPV6` on the socket.
    public var isIPv6: Bool { host.contains(":") }

    /// `tcp://HOST:PORT`, bracketing an IPv6 host.
    public var description: String {
        let shownHost = isIPv6 ? "[\(host)]" : host
        return "tcp://\(shownHost):\(port.map(String.init) ?? "*")"
    }

    /// Parses `tcp://HOST:PORT`.
    ///
    /// - Parameters:
    ///   - text: the endpoint as written.
    ///   - origin: where it was written (`--coordinator`, `coordinator.bind`...), for the error.
    ///   - allowAnyPort: whether `*` is accepted as the port (binding only).
    public static func parse(_ text: String, origin: String, allowAnyPort: Bool = false) throws(EndpointError) -> Endpoint {
        func refuse(_ problem: String) -> EndpointError { EndpointError(value: text, origin: origin, problem: problem) }
        let scheme = "tcp://"
        guard text.hasPrefix(scheme) else {
            if text.contains("://") { throw refuse("uses another scheme than tcp://") }
            throw refuse("does not start with tcp:// (write tcp://HOST:PORT, e.g. tcp://127.0.0.1:7070)")
        }
        let rest = text.dropFirst(scheme.count)
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw refuse("has an IPv6 address without its closing ]") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { throw refuse("has no :PORT after the IPv6 address") }
            portText = after.dropFirst()
            guard host.contains(":"), isIPv6Literal(String(host)) else { throw refuse("has '\(String(host).escapedForLog)' in brackets, which is not an IPv6 address") }
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw refuse("has no :PORT") }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
            if host.contains(":") { throw refuse("has an IPv6 address without brackets (write tcp://[ADDRESS]:PORT)") }
        }
        guard !host.isEmpty else { throw refuse("has no host") }
        guard isValidHost(String(host)) else { throw refuse("has the host '\(String(host).escapedForLog)', which is not an address or a host name") }
        if portText == "*" {
            guard allowAnyPort else { throw refuse("has the port *, which only a bind accepts") }
            return Endpoint(unchecked: String(host), port: nil)
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), port <= 65535 else {
            throw refuse("has the port '\(String(portText).escapedForLog)', which is not a number in 0...65535")
        }
        return Endpoint(unchecked: String(host), port: UInt16(port))
    }

    private init(unchecked host: String, port: UInt16?) {
        self.host = host
        self.port = port
    }

    /// An IPv4 or IPv6 literal, `*`, or a host name of letters, digits, `-` and `.` (RFC 1123).
    public static func isValidHost(_ host: String) -> Bool {
        if host == "*" { return true }
        if host.contains(":") { return isIPv6Literal(host) }
        guard !host.isEmpty, host.utf8.count <= 253 else { return false }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" }
        }
    }

    static func isIPv6Literal(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}

/// An address that is not a valid endpoint, with the value and where it came from.
public struct EndpointError: GroveError, Equatable {
    /// The address as written.
    public var value: String
    /// Where it was written: an option (`--coordinator`), a configuration key, a peer's message.
    public var origin: String
    /// What is wrong with it.
    public var problem: String

    public init(value: String, origin: String, problem: String) {
        self.value = value
        self.origin = origin
        self.problem = problem
    }

    public var code: String { "endpoint.invalid" }
    public var message: String { "\(origin): '\(value.escapedForLog)' \(problem)" }
}
