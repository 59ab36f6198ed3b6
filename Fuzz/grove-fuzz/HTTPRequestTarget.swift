import Observability

/// The status server's request parser (`HTTPRequest.parse`, Observability/HTTPRequest.swift), fed
/// the way the server feeds it: after every read, with everything received so far.
///
/// Input: one byte giving where the first read ends, then the bytes. Oracle: once a prefix
/// parses as a complete head, the whole input parses to the same request and length, and a
/// prefix that is invalid stays invalid.
let httpRequestTarget = FuzzTarget(
    name: "http-request",
    summary: "HTTP request heads of the status server (Observability/HTTPRequest.swift)",
    run: { data in
        guard let cut = data.first else { return }
        let bytes = Array(data.dropFirst())
        let whole = HTTPRequest.parse(bytes)
        let prefix = HTTPRequest.parse(Array(bytes.prefix(Int(cut))))
        switch prefix {
        case .complete:
            guard prefix == whole else { finding("a complete head parses differently once more bytes arrive: \(prefix) then \(whole)") }
        case .invalid:
            if case .invalid = whole { break }
            finding("an invalid head becomes \(whole) once more bytes arrive")
        case .incomplete:
            break
        }
    },
    seeds: {
        let requests = [
            "GET /status HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n",
            "HEAD /metrics?format=prometheus HTTP/1.0\r\n\r\n",
            "GET / HTTP/1.1\nHost: a\n\n",
            "POST /status HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody",
        ]
        return requests.enumerated().map { (name: "request-\($0.offset)", bytes: [UInt8(20)] + Array($0.element.utf8)) }
    }
)
