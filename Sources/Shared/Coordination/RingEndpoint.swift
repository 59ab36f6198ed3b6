/// Checks a ring endpoint a member advertises before any peer dials it: `tcp://HOST:PORT` with a
/// host name, an IPv4 address or a bracketed IPv6 literal, and a port in 1...65535. A member whose
/// endpoint does not parse is refused at join, so that its neighbours never fail dialling it.
public enum RingEndpoint {
    /// Nil when `endpoint` is usable; otherwise why not.
    public static func problem(_ endpoint: String) -> String? {
        guard endpoint.utf8.count <= 512 else { return "longer than 512 bytes" }
        guard endpoint.hasPrefix("tcp://") else { return "does not start with tcp://" }
        let rest = endpoint.dropFirst("tcp://".count)
        let host: Substring, port: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return "has an unclosed [ in its IPv6 address" }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { return "has no :PORT after its IPv6 address" }
            port = after.dropFirst()
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }), host.contains(":") else {
                return "has an IPv6 address that is not one"
            }
        } else {
            guard let colon = rest.lastIndex(of: ":") else { return "has no :PORT" }
            host = rest[..<colon]
            port = rest[rest.index(after: colon)...]
            guard !host.isEmpty else { return "has no host" }
            // Before the character check, which would refuse `*` with a vaguer reason.
            if host == "*" || host == "0.0.0.0" { return "names no host a peer can reach (\(host))" }
            guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }) else {
                return "has a host with characters a host name cannot have"
            }
        }
        if host == "::" { return "names no host a peer can reach (::)" }
        guard let number = Int(port), (1...65535).contains(number), port.allSatisfy(\.isNumber) else {
            return "has port '\(port)', not a number in 1...65535"
        }
        return nil
    }
}
