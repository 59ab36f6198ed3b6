import Testing
@testable import Observability

/// The request-head parser, byte by byte: what is complete, what needs more, what is refused.
@Suite struct HTTPRequestTests {
    func parse(_ text: String) -> HTTPRequest.ParseResult { HTTPRequest.parse(Array(text.utf8)) }

    @Test func parsesRequestLineQueryAndHeaders() throws {
        let text = "GET /status?pretty=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAccept:  application/json \r\n\r\nrest"
        guard case .complete(let request, let consumed) = parse(text) else {
            Issue.record("expected a complete request, got \(parse(text))")
            return
        }
        #expect(request.method == "GET")
        #expect(request.target == "/status?pretty=1")
        #expect(request.path == "/status")
        #expect(request.query == "pretty=1")
        #expect(request.version == "HTTP/1.1")
        #expect(request.header("HOST") == "127.0.0.1:9")
        #expect(request.header("accept") == "application/json")
        #expect(request.header("missing") == nil)
        #expect(consumed == text.utf8.count - 4)
    }

    /// Fuzz finding (http-request target): a request line ending in CR CR LF was refused while the
    /// head was incomplete and accepted once it was complete, because the complete head had its
    /// line ends stripped twice. A stray CR is now refused the same way either way.
    @Test func strayCarriageReturnInTheRequestLineIsRefusedWhetherOrNotTheHeadIsComplete() {
        let incomplete = parse("GET /s HTTP/1.1\r\r\nHo")
        let complete = parse("GET /s HTTP/1.1\r\r\nHost: a\r\n\r\n")
        for result in [incomplete, complete] {
            guard case .invalid(let reason) = result else {
                Issue.record("a request line with a stray CR gave \(result)")
                continue
            }
            #expect(reason.contains("is not HTTP/1.0 or HTTP/1.1"))
        }
        #expect(incomplete == complete)
    }

    @Test func acceptsBareLineFeeds() {
        guard case .complete(let request, _) = parse("HEAD / HTTP/1.0\nHost: x\n\n") else {
            Issue.record("bare LF head refused")
            return
        }
        #expect(request.method == "HEAD")
        #expect(request.path == "/")
    }

    @Test func waitsForTheEmptyLine() {
        #expect(parse("") == .incomplete)
        #expect(parse("GET / HT") == .incomplete)
        #expect(parse("GET / HTTP/1.1\r\nHost: x\r\n") == .incomplete)
    }

    @Test func refusesMalformedHeads() {
        for bad in [
            "garbage\r\n\r\n",
            "GET /\r\n\r\n",
            "get / HTTP/1.1\r\n\r\n",
            "GET status HTTP/1.1\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
            "GET / HTTP/1.1\r\nbad name: v\r\n\r\n",
        ] {
            guard case .invalid(let reason) = parse(bad) else {
                Issue.record("accepted \(bad.debugDescription)")
                continue
            }
            #expect(!reason.isEmpty)
        }
        // A wrong first line is refused without waiting for the rest of the head.
        guard case .invalid = parse("NOT HTTP AT ALL\r\nmore") else {
            Issue.record("waited for more after a bad request line")
            return
        }
    }

    @Test func refusesBytesThatAreNotUTF8() {
        guard case .invalid = HTTPRequest.parse(Array("GET /".utf8) + [0xFF, 0xFE] + Array(" HTTP/1.1\r\n\r\n".utf8)) else {
            Issue.record("accepted invalid UTF-8")
            return
        }
    }

    @Test func serializesResponsesWithLengthAndClose() {
        let response = HTTPResponse(status: 405, contentType: "text/plain", text: "no", headers: ["Allow": "GET, HEAD"])
        let text = String(decoding: response.serialized(), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(text.contains("Content-Length: 2\r\n"))
        #expect(text.contains("Connection: close\r\n"))
        #expect(text.contains("Allow: GET, HEAD\r\n"))
        #expect(text.hasSuffix("\r\n\r\nno"))
        #expect(String(decoding: response.serialized(includeBody: false), as: UTF8.self).hasSuffix("\r\n\r\n"))
    }
}
