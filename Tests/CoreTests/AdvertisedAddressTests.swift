import Testing
@testable import Core

/// What a process announces for a socket it bound: never a wildcard, which names no host.
@Suite struct AdvertisedAddressTests {
    @Test func anExplicitHostReplacesTheBoundOneAndKeepsThePort() throws {
        let endpoint = try AdvertisedAddress.endpoint(bound: "tcp://0.0.0.0:41234", advertise: "worker-7.example", peer: nil)
        #expect(endpoint.description == "tcp://worker-7.example:41234")
        let v6 = try AdvertisedAddress.endpoint(bound: "tcp://[::]:5000", advertise: "fd00::7", peer: nil)
        #expect(v6.description == "tcp://[fd00::7]:5000")
    }

    @Test func aSpecificBoundAddressIsAnnouncedAsItIs() throws {
        let endpoint = try AdvertisedAddress.endpoint(bound: "tcp://10.1.2.3:41234", advertise: nil, peer: ("10.9.9.9", 7070))
        #expect(endpoint.description == "tcp://10.1.2.3:41234")
    }

    /// Towards the loopback peer the route's source is loopback: the lookup answers with an
    /// address of this host, never the wildcard.
    @Test func aWildcardBindAnnouncesTheSourceAddressTowardsThePeer() throws {
        let endpoint = try AdvertisedAddress.endpoint(bound: "tcp://0.0.0.0:41234", advertise: nil, peer: ("127.0.0.1", 7070))
        #expect(endpoint.description == "tcp://127.0.0.1:41234")
        #expect(AdvertisedAddress.source(toward: "127.0.0.1", port: 7070) == "127.0.0.1")
    }

    @Test func aWildcardBindWithoutAPeerAnnouncesAnAddressOfThisHost() throws {
        let endpoint = try AdvertisedAddress.endpoint(bound: "tcp://0.0.0.0:41234", advertise: nil, peer: nil)
        #expect(!AdvertisedAddress.isWildcard(endpoint.host))
        #expect(endpoint.port == 41234)
    }

    @Test func wildcardsAreKnown() {
        for host in ["0.0.0.0", "::", "*", "0:0:0:0:0:0:0:0"] { #expect(AdvertisedAddress.isWildcard(host), "\(host)") }
        for host in ["127.0.0.1", "::1", "10.0.0.1", "trainer.example"] { #expect(!AdvertisedAddress.isWildcard(host), "\(host)") }
    }

    @Test func noRouteGivesNil() {
        #expect(AdvertisedAddress.source(toward: "no-such-host.invalid", port: 1) == nil)
    }
}
