import Core
import Foundation
import Testing
@testable import Observability

/// The status server with tokens (bound beyond loopback): nothing without one, everything with
/// the status token, only `/metrics` with the metrics token.
@Suite struct StatusAccessTests {
    static let statusToken = StatusAccess.newToken()
    static let metricsToken = StatusAccess.newToken()

    static func get(_ port: UInt16, _ path: String, token: String?) throws -> RawHTTPClient.Response {
        let auth = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        return try RawHTTPClient(port: port).send("GET \(path) HTTP/1.1\r\nHost: x\r\n\(auth)\r\n")
    }

    @Test func everyRouteNeedsATokenAndTheMetricsTokenOpensOnlyMetrics() throws {
        let server = try StatusServerSocketTests.server()
        defer { server.stop() }
        let refused = Locked<[String]>([])
        server.requireTokens(StatusAccess(statusToken: Self.statusToken, metricsToken: Self.metricsToken),
                             onRefused: { address, _ in refused.update { $0.append(address) } })
        for path in ["/", "/status", "/metrics"] {
            let denied = try Self.get(server.port, path, token: nil)
            #expect(denied.status == 401, "\(path) without a token")
            #expect(denied.body == "not authorized\n", "a refused client learns nothing about the run")
            #expect(try Self.get(server.port, path, token: "wrong").status == 401)
            #expect(try Self.get(server.port, path, token: Self.statusToken).status == 200, "\(path) with the status token")
        }
        #expect(try Self.get(server.port, "/metrics", token: Self.metricsToken).status == 200)
        #expect(try Self.get(server.port, "/status", token: Self.metricsToken).status == 401, "the metrics token opens only /metrics")
        #expect(server.refusedRequests == 7)
        #expect(refused.value == ["127.0.0.1"], "logged once per address a minute, not per request")
    }

    @Test func tokensCompareWholly() {
        #expect(StatusAccess.same(Array("abc".utf8), Array("abc".utf8)))
        #expect(!StatusAccess.same(Array("abd".utf8), Array("abc".utf8)))
        #expect(!StatusAccess.same(Array("ab".utf8), Array("abc".utf8)))
        #expect(!StatusAccess.same([], []), "an empty token opens nothing")
        #expect(StatusAccess.newToken().count == 64 && StatusAccess.newToken() != StatusAccess.newToken())
    }

    @Test func theTokenFileIsPrivate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grove-token-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try StatusFile.writeToken("secret-token-0123456789", directory: dir)
        let path = dir + "/" + StatusFile.tokenFileName
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        #expect(StatusFile.readToken(directory: dir) == "secret-token-0123456789")
        #expect(try StatusAccess.readToken(path: path, origin: "test") == "secret-token-0123456789")
        chmod(path, 0o644)
        #expect(throws: ObservabilityError.self) { try StatusAccess.readToken(path: path, origin: "security.metrics_token_file") }
    }
}
