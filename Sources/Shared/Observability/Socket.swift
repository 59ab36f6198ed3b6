#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The status server's only path to the socket API: one helper around every call, and a thin
/// owner of one file descriptor.
enum Socket {
    /// Runs a system call, retrying `EINTR`. Returns nil on `EAGAIN`/`EWOULDBLOCK` (a receive or
    /// send timeout) and throws any other failure with the function's name and errno text.
    @discardableResult
    static func call(_ function: String, _ body: () -> Int) throws(ObservabilityError) -> Int? {
        while true {
            let result = body()
            if result != -1 { return result }
            let error = errno
            switch error {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw ObservabilityError(.socket, "\(function) failed: \(String(cString: strerror(error))) (errno \(error))")
            }
        }
    }

    /// The IPv4 address of `host`: a dotted quad, or `localhost`. The status server binds
    /// loopback or all interfaces, so it needs no name resolution.
    static func ipv4(_ host: String) throws(ObservabilityError) -> in_addr {
        var address = in_addr()
        let literal = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, literal, &address) == 1 else {
            throw ObservabilityError(.invalidSetting, "status server host '\(host)' is not an IPv4 address (127.0.0.1, 0.0.0.0) or localhost")
        }
        return address
    }

    /// A listening TCP socket on `host:port` (port 0: the kernel picks a free one).
    static func makeListener(host: String, port: UInt16, backlog: Int32) throws(ObservabilityError) -> (fd: Int32, port: UInt16) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr = try ipv4(host)
        guard let fd = try call("socket", { Int(socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)) }) else {
            throw ObservabilityError(.socket, "socket returned EAGAIN")
        }
        let descriptor = Int32(fd)
        do throws(ObservabilityError) {
            var one: Int32 = 1
            try call("setsockopt(SO_REUSEADDR)") {
                Int(setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)))
            }
            let length = socklen_t(MemoryLayout<sockaddr_in>.size)
            do {
                try call("bind") {
                    withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Int(bind(descriptor, $0, length)) } }
                }
            } catch {
                throw ObservabilityError(.socket, "cannot bind the status server to \(host):\(port): \(error.message)")
            }
            try call("listen") { Int(listen(descriptor, backlog)) }
            var bound = sockaddr_in()
            var boundLength = length
            try call("getsockname") {
                withUnsafeMutablePointer(to: &bound) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Int(getsockname(descriptor, $0, &boundLength)) }
                }
            }
            return (descriptor, UInt16(bigEndian: bound.sin_port))
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// Sets the receive and send timeouts, so a silent or stuck client cannot hold a connection
    /// thread longer than `seconds` per call.
    /// The IPv4 address of a connection's peer, for logs; "unknown" when the system will not say.
    static func peerAddress(_ fd: Int32) -> String {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
        }
        guard ok, address.sin_family == sa_family_t(AF_INET) else { return "unknown" }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        var raw = address.sin_addr
        guard inet_ntop(AF_INET, &raw, &text, socklen_t(text.count)) != nil else { return "unknown" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func setTimeouts(_ fd: Int32, seconds: Double) throws(ObservabilityError) {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1e6))
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            try call("setsockopt(timeout)") {
                Int(setsockopt(fd, SOL_SOCKET, option, &timeout, socklen_t(MemoryLayout<timeval>.size)))
            }
        }
    }

    /// Sends all of `bytes`; false if the peer went away or the send timed out. MSG_NOSIGNAL: a
    /// client that hangs up early must not raise SIGPIPE and kill the process.
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = try? bytes.withUnsafeBytes { buffer in
                try call("send") { send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL)) }
            }
            guard let sent, sent > 0 else { return false }
            offset += sent
        }
        return true
    }
}
