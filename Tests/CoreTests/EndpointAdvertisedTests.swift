import Testing
@testable import Core

/// The endpoints a peer advertises for others to dial (a worker's ring endpoint): `parse`'s
/// rules plus what a dialling peer needs.
@Suite struct EndpointAdvertisedTests {
    @Test(arguments: ["tcp://10.0.0.5:41234", "tcp://node-7.cluster-a:1", "tcp://[fe80::1]:65535", "tcp://[::1]:80",
                      "tcp://[::ffff:10.0.0.1]:5555"])
    func usableEndpointsPass(_ endpoint: String) throws {
        #expect(try Endpoint.parseAdvertised(endpoint, origin: "ring endpoint").description == endpoint)
    }

    @Test(arguments: [
        ("udp://h:1", "uses another scheme than tcp://"),
        ("tcp://h", "has no :PORT"),
        ("tcp://:5", "has no host"),
        ("tcp://*:5", "names no host a peer can reach (*)"),
        ("tcp://0.0.0.0:5", "names no host a peer can reach (0.0.0.0)"),
        ("tcp://[::]:5", "names no host a peer can reach (::)"),
        ("tcp://[fe80::1:5", "has an IPv6 address without its closing ]"),
        ("tcp://[fe80::1]5", "has no :PORT after the IPv6 address"),
        ("tcp://[zz]:5", "has 'zz' in brackets, which is not an IPv6 address"),
        ("tcp://[]:5", "has '' in brackets, which is not an IPv6 address"),
        ("tcp://h o:5", "has the host 'h o', which is not an address or a host name"),
        ("tcp://h\n:5", "has the host 'h\\n', which is not an address or a host name"),
        // Dialling resolves it as a host name, and a host name has no underscore (RFC 1123).
        ("tcp://node_7:5", "has the host 'node_7', which is not an address or a host name"),
        ("tcp://h:0", "has the port 0, which a peer cannot dial"),
        ("tcp://h:*", "has the port *, which only a bind accepts"),
        ("tcp://h:65536", "has the port '65536', which is not a number in 0...65535"),
        ("tcp://h:+80", "has the port '+80', which is not a number in 0...65535"),
        ("tcp://h:", "has the port '', which is not a number in 0...65535"),
    ])
    func unusableEndpointsSayWhy(_ endpoint: String, _ problem: String) {
        #expect(throws: EndpointError(value: endpoint, origin: "ring endpoint", problem: problem)) {
            try Endpoint.parseAdvertised(endpoint, origin: "ring endpoint")
        }
    }

    @Test func overlongEndpointsAreRefusedBeforeParsing() {
        let endpoint = "tcp://" + String(repeating: "a", count: 600) + ":1"
        #expect(throws: EndpointError(value: endpoint, origin: "ring endpoint", problem: "is longer than 512 bytes")) {
            try Endpoint.parseAdvertised(endpoint, origin: "ring endpoint")
        }
    }
}
