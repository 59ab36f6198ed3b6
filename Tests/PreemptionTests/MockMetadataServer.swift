import Core
import Foundation
import Preemption
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP server on 127.0.0.1 that plays a metadata service: it answers each request from a
/// script the test can change at any time, and records every request with its headers so tests
/// can check what a watcher sent.
///
/// One connection at a time on one thread; enough for one watcher per server.
final class MockMetadataServer: @unchecked Sendable {
    struct Request: Sendable {
        var method: String
        /// Path and query as sent.
        var target: String
        /// Header values by lower-cased name.
        var headers: [String: String]
        var body: [UInt8]
        var path: String { String(target.split(separator: "?", maxSplits: 1).first ?? "") }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    enum Reply: Sendable {
        case respond(status: Int, body: String, headers: [String: String] = [:])
        /// Close the connection without a word.
        case hangUp
        /// Never answer; the connection stays open until the server stops.
        case silent
        /// Answer after a pause.
        indirect case delayed(milliseconds: Int, Reply)
    }

    typealias Script = @Sendable (Request) -> Reply

    let port: UInt16
    private let listener: Int32
    private let script: Locked<Script>
    private let log = Locked<[Request]>([])
    private let stopping = Locked(false)
    private let done = DispatchSemaphore(value: 0)

    var endpoint: String { "http://127.0.0.1:\(port)" }

    init(_ script: @escaping Script) throws {
        self.script = Locked(script)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw PreemptionError(code: "mock", "socket: \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw PreemptionError(code: "mock", "bind/listen on 127.0.0.1:0 failed: \(errno)")
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in serve() }
        thread.name = "mock-metadata"
        thread.start()
    }

    /// Replaces the script; the next request sees the new one.
    func setScript(_ script: @escaping Script) { self.script.value = script }

    var requests: [Request] { log.value }
    func requests(path: String) -> [Request] { log.value.filter { $0.path == path } }

    /// Stops accepting, ends the serving thread and closes the port.
    func stop() {
        guard !stopping.update({ was in defer { was = true }; return was }) else { return }
        done.wait()
        close(listener)
    }

    deinit { stop() }

    private var isStopping: Bool { stopping.value }

    private func serve() {
        defer { done.signal() }
        while !isStopping {
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 20) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        guard let request = readRequest(connection) else { return }
        log.update { $0.append(request) }
        reply(script.value(request), on: connection)
    }

    private func reply(_ reply: Reply, on connection: Int32) {
        switch reply {
        case .delayed(let milliseconds, let then):
            usleep(useconds_t(milliseconds * 1000))
            self.reply(then, on: connection)
        case .hangUp:
            return
        case .silent:
            while !isStopping { usleep(10_000) }
        case .respond(let status, let body, let headers):
            var head = "HTTP/1.1 \(status) Scripted\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            let bytes = Array((head + "\r\n" + body).utf8)
            var sent = 0
            while sent < bytes.count {
                let count = bytes.withUnsafeBytes { Glibc.send(connection, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
                if count <= 0 { return }
                sent += count
            }
        }
    }

    /// Reads the request head and a Content-Length body, giving up after two seconds of silence.
    private func readRequest(_ connection: Int32) -> Request? {
        var raw: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let request = parse(raw) { return request }
            var entry = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 2000) > 0 else { return nil }
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return nil }
            raw.append(contentsOf: buffer[0..<count])
        }
    }

    private func parse(_ raw: [UInt8]) -> Request? {
        let marker: [UInt8] = [13, 10, 13, 10]
        guard raw.count >= 4, let end = (0...(raw.count - 4)).first(where: { raw[$0..<($0 + 4)].elementsEqual(marker) }) else {
            return nil
        }
        let lines = String(decoding: raw[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let first = lines[0].split(separator: " ")
        guard first.count == 3 else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard raw.count >= end + 4 + length else { return nil }
        return Request(method: String(first[0]), target: String(first[1]), headers: headers,
                       body: Array(raw[(end + 4)..<(end + 4 + length)]))
    }
}

/// Waits until `condition` holds, checking every 10 ms, for at most `limit`; returns whether it
/// held. A bound on waiting for behaviour, not a measurement.
func eventually(within limit: Duration = .seconds(10), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// Collects what a watcher reports, from any thread.
final class Recorder: @unchecked Sendable {
    private let notices = Locked<[PreemptionNotice]>([])
    private let problems = Locked<[PreemptionError]>([])
    private let events = Locked<[PreemptionEvent]>([])

    var noticeList: [PreemptionNotice] { notices.value }
    var problemList: [PreemptionError] { problems.value }
    var eventList: [PreemptionEvent] { events.value }

    func notice(_ notice: PreemptionNotice) { notices.update { $0.append(notice) } }
    func problem(_ error: PreemptionError) { problems.update { $0.append(error) } }
    func event(_ event: PreemptionEvent) { events.update { $0.append(event) } }
}
