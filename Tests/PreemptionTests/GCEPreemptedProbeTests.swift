import Core
import Foundation
import Testing
@testable import Preemption

/// The Compute Engine probe against a mock metadata server.
@Suite struct GCEPreemptedProbeTests {
    static func server(_ value: Locked<String>) throws -> MockMetadataServer {
        try MockMetadataServer { request in
            guard request.path == GCEPreemptedProbe.path, request.headers["metadata-flavor"] == "Google" else {
                return .respond(status: 403, body: "Missing Metadata-Flavor")
            }
            return .respond(status: 200, body: value.value, headers: ["ETag": "etag-\(value.value)", "Metadata-Flavor": "Google"])
        }
    }

    func probe(_ server: MockMetadataServer, longPoll: Duration? = nil) throws -> GCEPreemptedProbe {
        GCEPreemptedProbe(endpoint: try MetadataEndpoint(server.endpoint, origin: "test"), client: SocketHTTPClient(),
                          timeout: .seconds(5), grace: .seconds(30), longPoll: longPoll)
    }

    @Test func falseIsNoNoticeTrueIsGraceFromNow() throws {
        let value = Locked("FALSE")
        let server = try Self.server(value)
        defer { server.stop() }
        var probe = try probe(server)
        #expect(try probe.check(now: .now, wallClock: Date(), report: { _ in }) == nil)
        value.value = "TRUE"
        let now = ContinuousClock.now
        let notice = try #require(try probe.check(now: now, wallClock: Date(), report: { _ in }))
        #expect(notice.source == .gcp)
        #expect(notice.deadline == now + .seconds(30))
        #expect(server.requests.count == 2)
        #expect(server.requests.allSatisfy { $0.headers["metadata-flavor"] == "Google" && $0.target == GCEPreemptedProbe.path })
    }

    @Test func unexpectedBodyIsMalformed() throws {
        let value = Locked("maybe")
        let server = try Self.server(value)
        defer { server.stop() }
        var probe = try probe(server)
        let error = #expect(throws: PreemptionError.self) { try probe.check(now: .now, wallClock: Date(), report: { _ in }) }
        #expect(error?.code == "preempt.malformed")
        #expect(error?.message.contains("maybe") == true)
    }

    @Test func longPollSendsTheLastETag() throws {
        let value = Locked("FALSE")
        let server = try Self.server(value)
        defer { server.stop() }
        var probe = try probe(server, longPoll: .seconds(20))
        #expect(try probe.check(now: .now, wallClock: Date(), report: { _ in }) == nil)
        value.value = "TRUE"
        #expect(try probe.check(now: .now, wallClock: Date(), report: { _ in }) != nil)
        let targets = server.requests.map(\.target)
        #expect(targets == [GCEPreemptedProbe.path, GCEPreemptedProbe.path + "?wait_for_change=true&last_etag=etag-FALSE&timeout_sec=20"])
    }

    @Test func errorStatusIsReported() throws {
        let server = try MockMetadataServer { _ in .respond(status: 503, body: "busy") }
        defer { server.stop() }
        var probe = try probe(server)
        let error = #expect(throws: PreemptionError.self) { try probe.check(now: .now, wallClock: Date(), report: { _ in }) }
        #expect(error?.code == "preempt.http-status")
        #expect(error?.message.contains("503") == true)
    }
}
