import Testing
import Core

@Suite struct EndpointTests {
    @Test func parsesIPv4HostNamesAndIPv6Literals() throws {
        let v4 = try Endpoint.parse("tcp://127.0.0.1:7070", origin: "--coordinator")
        #expect(v4.host == "127.0.0.1" && v4.port == 7070 && !v4.isIPv6)
        #expect(v4.description == "tcp://127.0.0.1:7070")
        let name = try Endpoint.parse("tcp://coordinator-1.example.org:65535", origin: "x")
        #expect(name.host == "coordinator-1.example.org" && name.port == 65535)
        let v6 = try Endpoint.parse("tcp://[::1]:7070", origin: "x")
        #expect(v6.host == "::1" && v6.port == 7070 && v6.isIPv6)
        #expect(v6.description == "tcp://[::1]:7070")
        let full = try Endpoint.parse("tcp://[2001:db8::7]:0", origin: "x")
        #expect(full.host == "2001:db8::7" && full.port == 0)
        let any = try Endpoint.parse("tcp://*:*", origin: "x", allowAnyPort: true)
        #expect(any.host == "*" && any.port == nil && any.description == "tcp://*:*")
    }

    @Test(arguments: [
        ("127.0.0.1:7070", "does not start with tcp://"),
        ("http://127.0.0.1:7070", "another scheme"),
        ("tcp://127.0.0.1", "has no :PORT"),
        ("tcp://127.0.0.1:", "not a number in 0...65535"),
        ("tcp://127.0.0.1:70700", "not a number in 0...65535"),
        ("tcp://127.0.0.1:-1", "not a number in 0...65535"),
        ("tcp://127.0.0.1:+80", "not a number in 0...65535"),
        ("tcp://127.0.0.1:*", "only a bind accepts"),
        ("tcp://:7070", "has no host"),
        ("tcp://::1:7070", "without brackets"),
        ("tcp://[::1:7070", "closing ]"),
        ("tcp://[::1]7070", "no :PORT after"),
        ("tcp://[127.0.0.1]:7070", "not an IPv6 address"),
        ("tcp://[zz::1]:7070", "not an IPv6 address"),
        ("tcp://bad host:7070", "not an address or a host name"),
        ("tcp://-lead.example:7070", "not an address or a host name"),
        ("tcp://a..b:7070", "not an address or a host name"),
    ])
    func refusesMalformedAddressesNamingValueAndOrigin(text: String, problem: String) {
        do {
            let parsed = try Endpoint.parse(text, origin: "--coordinator")
            Issue.record("\(text) parsed as \(parsed)")
        } catch {
            #expect(error.value == text)
            #expect(error.origin == "--coordinator")
            #expect(error.message.hasPrefix("--coordinator: '\(text)'"), "\(error.message)")
            #expect(error.message.contains(problem), "\(error.message)")
        }
    }

    @Test func aControlCharacterInTheValueIsEscapedInTheMessage() {
        #expect(throws: EndpointError.self) { try Endpoint.parse("tcp://a\nb:1", origin: "--coordinator") }
        do { _ = try Endpoint.parse("tcp://a\u{1B}[2Jb:1", origin: "x") } catch {
            #expect(!error.message.contains("\u{1B}"))
            #expect(error.message.contains("\\u{1B}"))
        }
    }

    @Test func hostsFromParts() throws {
        #expect(try Endpoint(host: "::1", port: 9).description == "tcp://[::1]:9")
        #expect(try Endpoint(host: "10.0.0.2", port: nil).description == "tcp://10.0.0.2:*")
        #expect(throws: EndpointError.self) { try Endpoint(host: "tcp://10.0.0.2", port: nil) }
        #expect(throws: EndpointError.self) { try Endpoint(host: "", port: nil) }
    }
}
