import Glibc

/// The address a process tells its peers to dial, when the one it bound is no use to them.
///
/// A socket bound to `0.0.0.0` or `::` listens on every interface, but those addresses name no
/// host: a peer that dials `tcp://0.0.0.0:PORT` reaches itself. The address to announce is then
/// the one an explicit setting gives (`--advertise`, `coordinator.advertise`), or else the
/// address this host's routing table would use towards the peer it already talks to: the source
/// address of a route lookup, made by connecting an unsent UDP socket (no packet leaves).
public enum AdvertisedAddress {
    /// Whether `host` is a wildcard address: every interface, no host in particular.
    public static func isWildcard(_ host: String) -> Bool {
        host == "*" || host == "0.0.0.0" || host == "::" || host == "0:0:0:0:0:0:0:0"
    }

    /// The local address this host would send from towards `host` (a literal or a name), or nil
    /// when there is no route. Sends nothing.
    public static func source(toward host: String, port: UInt16) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let first = found else { return nil }
        defer { freeaddrinfo(first) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let candidate = entry {
            defer { entry = candidate.pointee.ai_next }
            let fd = socket(candidate.pointee.ai_family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard connect(fd, candidate.pointee.ai_addr, candidate.pointee.ai_addrlen) == 0 else { continue }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            if named == 0, let text = numericHost(&storage) { return text }
        }
        return nil
    }

    /// The first address of an interface that is up and not loopback (IPv4 or IPv6 as asked),
    /// for a coordinator bound to every interface with nothing said about which one workers use.
    public static func firstInterface(ipv6: Bool) -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(first) }
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        var linkLocal: String?
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            let flags = Int32(bitPattern: current.pointee.ifa_flags)
            guard flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0,
                  let address = current.pointee.ifa_addr,
                  Int32(address.pointee.sa_family) == (ipv6 ? AF_INET6 : AF_INET) else { continue }
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { target in
                let size = ipv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
                target.copyMemory(from: UnsafeRawBufferPointer(start: address, count: size))
            }
            guard let text = numericHost(&storage) else { continue }
            // A link-local IPv6 address needs a zone to be dialled; use one only for want of others.
            if text.lowercased().hasPrefix("fe80") { linkLocal = linkLocal ?? text; continue }
            return text
        }
        return ipv6 ? nil : linkLocal
    }

    /// `tcp://HOST:PORT` for peers: `bound` (what the socket reported) with its host replaced by
    /// `advertise` when given, or, when it bound a wildcard, by the source address towards
    /// `peer` (falling back to the first interface, then loopback).
    public static func endpoint(bound: String, advertise: String?, peer: (host: String, port: UInt16)?) throws(EndpointError) -> Endpoint {
        let parsed = try Endpoint.parse(bound, origin: "the bound address")
        let host: String
        if let advertise, !advertise.isEmpty {
            host = advertise
        } else if isWildcard(parsed.host) {
            host = peer.flatMap { source(toward: $0.host, port: $0.port) }
                ?? firstInterface(ipv6: parsed.isIPv6)
                ?? (parsed.isIPv6 ? "::1" : "127.0.0.1")
        } else {
            host = parsed.host
        }
        return try Endpoint(host: host, port: parsed.port)
    }

    private static func numericHost(_ storage: inout sockaddr_storage) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let length = socklen_t(storage.ss_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST)
            }
        }
        guard rc == 0 else { return nil }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // A scoped address (fe80::1%eth0) cannot be written in an endpoint.
        return text.contains("%") ? nil : text
    }
}
