import Foundation
import Testing
@testable import Preemption

/// The real client against the mock server on 127.0.0.1.
@Suite struct SocketHTTPClientTests {
    @Test func roundTripSendsHeadersAndBody() throws {
        let server = try MockMetadataServer { request in
            .respond(status: 201, body: "got \(request.text)", headers: ["X-Reply": "yes"])
        }
        defer { server.stop() }
        let endpoint = try MetadataEndpoint(server.endpoint, origin: "test")
        let response = try SocketHTTPClient().send(
            MetadataRequest(method: "POST", target: "/a/b?c=d", headers: [("Metadata", "true")], body: Array("hello".utf8)),
            to: endpoint, timeout: .seconds(5))
        #expect(response.status == 201)
        #expect(response.text == "got hello")
        #expect(response.headers["x-reply"] == "yes")
        let seen = try #require(server.requests.first)
        #expect(seen.method == "POST")
        #expect(seen.target == "/a/b?c=d")
        #expect(seen.headers["metadata"] == "true")
        #expect(seen.headers["host"] == "127.0.0.1:\(server.port)")
    }

    @Test func silentServerTimesOut() throws {
        let server = try MockMetadataServer { _ in .silent }
        defer { server.stop() }
        let error = #expect(throws: PreemptionError.self) {
            try SocketHTTPClient().send(MetadataRequest(method: "GET", target: "/"),
                                        to: try MetadataEndpoint(server.endpoint, origin: "test"), timeout: .milliseconds(200))
        }
        #expect(error?.code == "preempt.timeout")
    }

    @Test func closedPortIsAConnectError() throws {
        let server = try MockMetadataServer { _ in .hangUp }
        let endpoint = try MetadataEndpoint(server.endpoint, origin: "test")
        server.stop()
        let error = #expect(throws: PreemptionError.self) {
            try SocketHTTPClient().send(MetadataRequest(method: "GET", target: "/"), to: endpoint, timeout: .seconds(2))
        }
        #expect(error?.code == "preempt.connect")
        #expect(error?.message.contains("127.0.0.1") == true)
    }

    @Test func hangUpIsMalformed() throws {
        let server = try MockMetadataServer { _ in .hangUp }
        defer { server.stop() }
        let error = #expect(throws: PreemptionError.self) {
            try SocketHTTPClient().send(MetadataRequest(method: "GET", target: "/"),
                                        to: try MetadataEndpoint(server.endpoint, origin: "test"), timeout: .seconds(2))
        }
        #expect(error?.code == "preempt.malformed")
    }
}
