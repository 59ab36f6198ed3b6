import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 client over POSIX sockets, just enough for metadata services.
///
/// Why not URLSession: every step here (name lookup aside) is bounded by one deadline, there is
/// no proxy from the environment to route a link-local request through by accident, and no
/// connection is kept alive between polls. One request per connection (`Connection: close`),
/// responses capped at `maxResponseBytes`.
///
/// Name resolution (`getaddrinfo`) cannot be given a deadline; it is bounded only by the
/// resolver's own timeouts. Configure numeric addresses where that matters.
public struct SocketHTTPClient: MetadataClient {
    /// Responses larger than this are refused: metadata answers are a few hundred bytes.
    public var maxResponseBytes: Int

    public init(maxResponseBytes: Int = 1 << 20) {
        self.maxResponseBytes = maxResponseBytes
    }

    public func send(_ request: MetadataRequest, to endpoint: MetadataEndpoint, timeout: Duration) throws(PreemptionError) -> MetadataResponse {
        let deadline = ContinuousClock.now + timeout
        let origin = "\(request.method) \(endpoint)\(request.target)"
        let fd = try connect(to: endpoint, deadline: deadline, origin: origin)
        defer { close(fd) }
        try writeAll(encode(request, host: endpoint), to: fd, deadline: deadline, origin: origin)
        var raw: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            try wait(fd, for: Int16(POLLIN), until: deadline, origin: origin)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw PreemptionError(code: "preempt.connect", "\(origin): recv failed: \(String(cString: strerror(errno)))")
            }
            raw.append(contentsOf: buffer[0..<count])
            guard raw.count <= maxResponseBytes else {
                throw PreemptionError(code: "preempt.malformed", "\(origin): response exceeds \(maxResponseBytes) bytes")
            }
            if let response = try MetadataResponse.parse(raw, atEOF: count == 0, origin: origin) { return response }
        }
    }

    func encode(_ request: MetadataRequest, host endpoint: MetadataEndpoint) -> [UInt8] {
        let hostHeader = endpoint.host.contains(":") ? "[\(endpoint.host)]" : endpoint.host
        var head = "\(request.method) \(request.target) HTTP/1.1\r\nHost: \(hostHeader)"
        head += endpoint.port == 80 ? "\r\n" : ":\(endpoint.port)\r\n"
        for (name, value) in request.headers { head += "\(name): \(value)\r\n" }
        if !request.body.isEmpty || request.method == "POST" || request.method == "PUT" {
            head += "Content-Length: \(request.body.count)\r\n"
        }
        head += "Connection: close\r\n\r\n"
        return Array(head.utf8) + request.body
    }

    /// A connected non-blocking socket to the first address of `endpoint` that accepts.
    func connect(to endpoint: MetadataEndpoint, deadline: ContinuousClock.Instant, origin: String) throws(PreemptionError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard rc == 0, let first = list else {
            throw PreemptionError(code: "preempt.connect", "\(origin): cannot resolve '\(endpoint.host)': \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(first) }
        var lastError = "no address"
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            next = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 {
                lastError = "socket: \(String(cString: strerror(errno)))"
                continue
            }
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS || errno == EINTR else {
                lastError = String(cString: strerror(errno))
                close(fd)
                continue
            }
            do {
                try wait(fd, for: Int16(POLLOUT), until: deadline, origin: origin)
            } catch {
                close(fd)
                throw error
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError == 0 { return fd }
            lastError = String(cString: strerror(soError))
            close(fd)
        }
        throw PreemptionError(code: "preempt.connect", "\(origin): cannot connect: \(lastError)")
    }

    func writeAll(_ bytes: [UInt8], to fd: Int32, deadline: ContinuousClock.Instant, origin: String) throws(PreemptionError) {
        var sent = 0
        while sent < bytes.count {
            try wait(fd, for: Int16(POLLOUT), until: deadline, origin: origin)
            // MSG_NOSIGNAL: a peer that hangs up must give an error here, not kill the process.
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw PreemptionError(code: "preempt.connect", "\(origin): send failed: \(String(cString: strerror(errno)))")
            }
            sent += count
        }
    }

    /// Waits until `fd` is ready for `events`, or throws `preempt.timeout` at the deadline.
    func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant, origin: String) throws(PreemptionError) {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else {
                throw PreemptionError(code: "preempt.timeout", "\(origin): no answer within the request timeout")
            }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let millis = Int32(min(left.inSeconds * 1000, 60_000).rounded(.up))
            let rc = poll(&entry, 1, max(1, millis))
            if rc > 0 { return }  // readable, writable, or an error the next call reports
            if rc < 0 && errno != EINTR {
                throw PreemptionError(code: "preempt.connect", "\(origin): poll failed: \(String(cString: strerror(errno)))")
            }
        }
    }
}
