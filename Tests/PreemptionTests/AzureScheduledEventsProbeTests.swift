import Core
import Foundation
import Testing
@testable import Preemption

/// The Azure probe against a mock Scheduled Events endpoint.
@Suite struct AzureScheduledEventsProbeTests {
    static let wall = Date(timeIntervalSince1970: 1_474_309_727)  // Mon, 19 Sep 2016 18:28:47 GMT

    static func document(_ events: String, incarnation: Int = 2) -> String {
        #"{"DocumentIncarnation": \#(incarnation), "Events": [\#(events)]}"#
    }

    static func event(id: String = "A123-B", type: String = "Preempt", resources: [String] = ["vm-1"],
                      notBefore: String = "Mon, 19 Sep 2016 18:29:47 GMT", status: String = "Scheduled") -> String {
        let names = resources.map { "\"\($0)\"" }.joined(separator: ", ")
        return #"{"EventId": "\#(id)", "EventType": "\#(type)", "ResourceType": "VirtualMachine", "Resources": [\#(names)], "#
            + #""EventStatus": "\#(status)", "NotBefore": "\#(notBefore)", "Description": "", "EventSource": "Platform", "DurationInSeconds": -1}"#
    }

    /// Serves `body` for the events path and `vm-1` as this VM's name; records the rest.
    static func server(_ body: Locked<String>) throws -> MockMetadataServer {
        try MockMetadataServer { request in
            guard request.headers["metadata"] == "true" else { return .respond(status: 400, body: "Bad request: Metadata header") }
            if request.target == AzureScheduledEventsProbe.namePath { return .respond(status: 200, body: "vm-1") }
            guard request.target == AzureScheduledEventsProbe.path else { return .respond(status: 404, body: "") }
            return request.method == "POST" ? .respond(status: 200, body: "") : .respond(status: 200, body: body.value)
        }
    }

    func probe(_ server: MockMetadataServer, name: String? = "vm-1") throws -> AzureScheduledEventsProbe {
        AzureScheduledEventsProbe(endpoint: try MetadataEndpoint(server.endpoint, origin: "test"), client: SocketHTTPClient(),
                                  timeout: .seconds(5), grace: .seconds(30), resourceName: name)
    }

    func check(_ probe: inout AzureScheduledEventsProbe, now: ContinuousClock.Instant = .now,
               problems: Locked<[PreemptionError]> = Locked([])) throws -> PreemptionNotice? {
        try probe.check(now: now, wallClock: Self.wall, report: { error in problems.update { $0.append(error) } })
    }

    @Test func noEventsOrOtherEventsAreNoNotice() throws {
        let body = Locked(Self.document("", incarnation: 1))
        let server = try Self.server(body)
        defer { server.stop() }
        var probe = try probe(server)
        #expect(try check(&probe) == nil)
        body.value = Self.document(Self.event(type: "Reboot"))
        #expect(try check(&probe) == nil)
        body.value = Self.document(Self.event(resources: ["vm-2"]))
        #expect(try check(&probe) == nil, "another VM of the availability set is preempted, not this one")
        #expect(server.requests.allSatisfy { $0.headers["metadata"] == "true" && $0.method == "GET" })
    }

    @Test func preemptDeadlineIsNotBefore() throws {
        let body = Locked(Self.document(Self.event(type: "Freeze", resources: ["vm-1"]) + ", " + Self.event(id: "EV-7")))
        let server = try Self.server(body)
        defer { server.stop() }
        var probe = try probe(server)
        let now = ContinuousClock.now
        let notice = try #require(try check(&probe, now: now))
        #expect(notice.source == .azure)
        #expect(notice.eventID == "EV-7")
        #expect(notice.deadline == now + .seconds(60))
        #expect(notice.detail.contains("EV-7"))
    }

    @Test func startedEventWithoutNotBeforeGetsTheGrace() throws {
        let body = Locked(Self.document(Self.event(notBefore: "", status: "Started")))
        let server = try Self.server(body)
        defer { server.stop() }
        var probe = try probe(server)
        let now = ContinuousClock.now
        #expect(try check(&probe, now: now)?.deadline == now + .seconds(30))
    }

    @Test func unreadableNotBeforeIsReportedButStillANotice() throws {
        let body = Locked(Self.document(Self.event(notBefore: "tomorrow-ish")))
        let server = try Self.server(body)
        defer { server.stop() }
        var probe = try probe(server)
        let problems = Locked<[PreemptionError]>([])
        let now = ContinuousClock.now
        #expect(try check(&probe, now: now, problems: problems)?.deadline == now + .seconds(30))
        #expect(problems.value.map(\.code) == ["preempt.malformed"])
        #expect(problems.value.first?.message.contains("tomorrow-ish") == true)
    }

    @Test func nameIsLookedUpOnceWhenNotGiven() throws {
        let body = Locked(Self.document(Self.event(resources: ["vm-2"])))
        let server = try Self.server(body)
        defer { server.stop() }
        var probe = try probe(server, name: nil)
        #expect(try check(&probe) == nil)
        #expect(try check(&probe) == nil)
        #expect(probe.resourceName == "vm-1")
        #expect(server.requests.filter { $0.target == AzureScheduledEventsProbe.namePath }.count == 1)
    }

    @Test func malformedDocumentIsAnError() throws {
        let body = Locked(#"{"DocumentIncarnation": 3, "Events": [{"EventType": "Preempt"}]}"#)
        let server = try Self.server(body)
        defer { server.stop() }
        var probe = try probe(server)
        let error = #expect(throws: PreemptionError.self) { try check(&probe) }
        #expect(error?.code == "preempt.malformed")
    }

    @Test func acknowledgementPostsStartRequests() throws {
        let server = try Self.server(Locked(""))
        defer { server.stop() }
        try AzureScheduledEventsProbe.acknowledge(eventID: "EV-7", endpoint: try MetadataEndpoint(server.endpoint, origin: "test"),
                                                  client: SocketHTTPClient(), timeout: .seconds(5))
        let post = try #require(server.requests.first)
        #expect(post.method == "POST")
        #expect(post.target == AzureScheduledEventsProbe.path)
        #expect(post.headers["metadata"] == "true")
        let json = try JSONSerialization.jsonObject(with: Data(post.body)) as? [String: [[String: String]]]
        #expect(json == ["StartRequests": [["EventId": "EV-7"]]])
    }

    @Test func firstAnswerMayTakeLonger() throws {
        let server = try MockMetadataServer { _ in .delayed(milliseconds: 300, .respond(status: 200, body: Self.document(""))) }
        defer { server.stop() }
        var probe = AzureScheduledEventsProbe(endpoint: try MetadataEndpoint(server.endpoint, origin: "test"), client: SocketHTTPClient(),
                                              timeout: .milliseconds(100), resourceName: "vm-1", firstAnswerTimeout: .seconds(10))
        #expect(try check(&probe) == nil, "the first request waits for Scheduled Events to switch on")
        let error = #expect(throws: PreemptionError.self) { try check(&probe) }
        #expect(error?.code == "preempt.timeout", "later requests have the ordinary bound")
    }
}
