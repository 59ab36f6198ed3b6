import Core
import Foundation
import Testing
@testable import Preemption

/// The EC2 probe against a mock IMDSv2.
@Suite struct AWSSpotProbeTests {
    /// A mock IMDS: hands out numbered tokens, accepts only the newest one, and serves `action`
    /// (nil = 404) to requests that carry it.
    final class IMDS: @unchecked Sendable {
        let issued = Locked(0)
        let action = Locked<String?>(nil)
        let server: MockMetadataServer

        init() throws {
            let issued = self.issued, action = self.action
            server = try MockMetadataServer { request in
                switch (request.method, request.path) {
                case ("PUT", AWSSpotProbe.tokenPath):
                    guard request.headers["x-aws-ec2-metadata-token-ttl-seconds"] != nil else {
                        return .respond(status: 400, body: "missing TTL")
                    }
                    let number = issued.update { $0 += 1; return $0 }
                    return .respond(status: 200, body: "token-\(number)")
                case ("GET", AWSSpotProbe.actionPath):
                    guard request.headers["x-aws-ec2-metadata-token"] == "token-\(issued.value)" else {
                        return .respond(status: 401, body: "")
                    }
                    guard let body = action.value else { return .respond(status: 404, body: "Not Found") }
                    return .respond(status: 200, body: body)
                default:
                    return .respond(status: 404, body: "")
                }
            }
        }

        func probe() throws -> AWSSpotProbe {
            AWSSpotProbe(endpoint: try MetadataEndpoint(server.endpoint, origin: "test"), client: SocketHTTPClient(), timeout: .seconds(5))
        }
    }

    let wall = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18T...Z, any fixed time works

    @Test func noNoticeUsesATokenFromPUT() throws {
        let imds = try IMDS()
        defer { imds.server.stop() }
        var probe = try imds.probe()
        for _ in 0..<3 {
            #expect(try probe.check(now: .now, wallClock: wall, report: { _ in }) == nil)
        }
        let puts = imds.server.requests(path: AWSSpotProbe.tokenPath)
        #expect(puts.count == 1, "one token serves every poll of its lifetime")
        #expect(puts.first?.method == "PUT")
        #expect(puts.first?.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600")
        let gets = imds.server.requests(path: AWSSpotProbe.actionPath)
        #expect(gets.count == 3)
        #expect(gets.allSatisfy { $0.headers["x-aws-ec2-metadata-token"] == "token-1" })
    }

    @Test func noticeDeadlineIsTheAnnouncedTime() throws {
        let imds = try IMDS()
        defer { imds.server.stop() }
        let announced = ISO8601DateFormatter().string(from: wall.addingTimeInterval(120))
        imds.action.value = #"{"action": "terminate", "time": "\#(announced)"}"#
        var probe = try imds.probe()
        let now = ContinuousClock.now
        let notice = try #require(try probe.check(now: now, wallClock: wall, report: { _ in }))
        #expect(notice.source == .aws)
        #expect(notice.deadline == now + .seconds(120))
        #expect(notice.detail.contains("terminate"))
        #expect(notice.detail.contains(announced))
    }

    @Test func announcedTimeInThePastMeansNow() throws {
        let imds = try IMDS()
        defer { imds.server.stop() }
        imds.action.value = #"{"action": "stop", "time": "2020-01-01T00:00:00Z"}"#
        var probe = try imds.probe()
        let now = ContinuousClock.now
        #expect(try probe.check(now: now, wallClock: wall, report: { _ in })?.deadline == now)
    }

    @Test func tokenIsRenewedBeforeItExpires() throws {
        let imds = try IMDS()
        defer { imds.server.stop() }
        var probe = try imds.probe()
        let start = ContinuousClock.now
        _ = try probe.check(now: start, wallClock: wall, report: { _ in })
        _ = try probe.check(now: start + .seconds(21600 - 120), wallClock: wall, report: { _ in })
        #expect(probe.tokensFetched == 1)
        _ = try probe.check(now: start + .seconds(21600 - 30), wallClock: wall, report: { _ in })
        #expect(probe.tokensFetched == 2, "renewed within a minute of expiry")
        #expect(imds.server.requests(path: AWSSpotProbe.actionPath).last?.headers["x-aws-ec2-metadata-token"] == "token-2")
    }

    @Test func unauthorizedFetchesANewTokenAndRetries() throws {
        let imds = try IMDS()
        defer { imds.server.stop() }
        var probe = try imds.probe()
        #expect(try probe.check(now: .now, wallClock: wall, report: { _ in }) == nil)
        imds.issued.value = 7  // the service restarted: token-1 is no longer valid
        imds.action.value = #"{"action": "hibernate", "time": "2026-11-26T17:00:00Z"}"#
        let notice = try probe.check(now: .now, wallClock: wall, report: { _ in })
        #expect(notice?.detail.contains("hibernate") == true)
        #expect(probe.tokensFetched == 2)
        let tokens = imds.server.requests(path: AWSSpotProbe.actionPath).map { $0.headers["x-aws-ec2-metadata-token"] }
        #expect(tokens == ["token-1", "token-1", "token-8"])
    }

    @Test func malformedActionIsAnError() throws {
        let imds = try IMDS()
        defer { imds.server.stop() }
        var probe = try imds.probe()
        for body in [#"{"action": "terminate""#, #"{"action": "terminate"}"#, #"{"action": "terminate", "time": "soon"}"#, "<html>"] {
            imds.action.value = body
            let error = #expect(throws: PreemptionError.self, "\(body)") { try probe.check(now: .now, wallClock: wall, report: { _ in }) }
            #expect(error?.code == "preempt.malformed")
            #expect(error?.message.contains(AWSSpotProbe.actionPath) == true)
        }
    }

    @Test func refusedTokenIsReportedWithItsStatus() throws {
        let server = try MockMetadataServer { _ in .respond(status: 403, body: "forbidden") }
        defer { server.stop() }
        var probe = AWSSpotProbe(endpoint: try MetadataEndpoint(server.endpoint, origin: "test"), client: SocketHTTPClient(), timeout: .seconds(5))
        let error = #expect(throws: PreemptionError.self) { try probe.check(now: .now, wallClock: wall, report: { _ in }) }
        #expect(error?.code == "preempt.http-status")
        #expect(error?.message.contains("403") == true)
    }
}
