import Testing
@testable import Coordination

@Suite struct RingEndpointTests {
    @Test(arguments: ["tcp://10.0.0.5:41234", "tcp://node-7.cluster_a:1", "tcp://[fe80::1]:65535", "tcp://[::1]:80",
                      "tcp://[::ffff:10.0.0.1]:5555"])
    func usableEndpointsPass(_ endpoint: String) {
        #expect(RingEndpoint.problem(endpoint) == nil)
    }

    @Test(arguments: [
        ("udp://h:1", "does not start with tcp://"),
        ("tcp://h", "has no :PORT"),
        ("tcp://:5", "has no host"),
        ("tcp://*:5", "names no host a peer can reach (*)"),
        ("tcp://0.0.0.0:5", "names no host a peer can reach (0.0.0.0)"),
        ("tcp://[::]:5", "names no host a peer can reach (::)"),
        ("tcp://[fe80::1:5", "has an unclosed [ in its IPv6 address"),
        ("tcp://[fe80::1]5", "has no :PORT after its IPv6 address"),
        ("tcp://[zz]:5", "has an IPv6 address that is not one"),
        ("tcp://[]:5", "has an IPv6 address that is not one"),
        ("tcp://h o:5", "has a host with characters a host name cannot have"),
        ("tcp://h\n:5", "has a host with characters a host name cannot have"),
        ("tcp://h:0", "has port '0', not a number in 1...65535"),
        ("tcp://h:65536", "has port '65536', not a number in 1...65535"),
        ("tcp://h:+80", "has port '+80', not a number in 1...65535"),
        ("tcp://h:", "has port '', not a number in 1...65535"),
    ])
    func unusableEndpointsSayWhy(_ endpoint: String, _ problem: String) {
        #expect(RingEndpoint.problem(endpoint) == problem)
    }

    @Test func overlongEndpointsAreRefusedBeforeParsing() {
        #expect(RingEndpoint.problem("tcp://" + String(repeating: "a", count: 600) + ":1") == "longer than 512 bytes")
    }
}
