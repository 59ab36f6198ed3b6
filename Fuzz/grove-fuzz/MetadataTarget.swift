import Foundation
import Preemption

/// Cloud metadata responses (Preemption/): the HTTP response parser, then the AWS, Azure and
/// Compute Engine probes reading the parsed answer as their service's document.
///
/// Input: one byte (bit 0: the peer has closed the connection), then the raw response. Every
/// request a probe makes gets that response back. Oracle: a notice's deadline is never before now.
let metadataTarget = FuzzTarget(
    name: "metadata",
    summary: "cloud metadata responses (Preemption/MetadataResponse+Parsing.swift and the probes)",
    run: { data in
        guard let control = data.first else { return }
        let raw = Array(data.dropFirst())
        guard let response = try? MetadataResponse.parse(raw, atEOF: control & 1 == 1, origin: "fuzz") else { return }
        let client = ReplayClient(response: response)
        let endpoint = MetadataEndpoint(host: "169.254.169.254", port: 80)
        let now = ContinuousClock.now
        let wallClock = Date(timeIntervalSince1970: 1_800_000_000)
        var probes: [any PreemptionProbe] = [
            AWSSpotProbe(endpoint: endpoint, client: client, timeout: .seconds(1)),
            AzureScheduledEventsProbe(endpoint: endpoint, client: client, timeout: .seconds(1)),
            GCEPreemptedProbe(endpoint: endpoint, client: client, timeout: .seconds(1)),
        ]
        for index in probes.indices {
            guard let notice = try? probes[index].check(now: now, wallClock: wallClock, report: { _ in }) else { continue }
            if notice.deadline < now { finding("\(probes[index].source) notice with a deadline before now") }
        }
    },
    seeds: {
        func response(_ status: String, _ headers: [String], _ body: String) -> [UInt8] {
            [1] + Array(("HTTP/1.1 \(status)\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n" + body).utf8)
        }
        let aws = #"{"action": "terminate", "time": "2027-01-15T08:22:00Z"}"#
        let azure = #"{"DocumentIncarnation": 2, "Events": [{"EventId": "A1", "EventType": "Preempt", "ResourceType": "VirtualMachine", "Resources": ["vm-1"], "EventStatus": "Scheduled", "NotBefore": "Mon, 19 Sep 2016 18:29:47 GMT"}]}"#
        return [
            (name: "aws-action", bytes: response("200 OK", ["Content-Type: application/json", "Content-Length: \(aws.utf8.count)"], aws)),
            (name: "azure-events", bytes: response("200 OK", ["Transfer-Encoding: chunked"], String(azure.utf8.count, radix: 16) + "\r\n" + azure + "\r\n0\r\n\r\n")),
            (name: "gce-true", bytes: response("200 OK", ["Metadata-Flavor: Google", "ETag: abc123"], "TRUE")),
            (name: "not-found", bytes: response("404 Not Found", ["Content-Length: 0"], "")),
        ]
    }
)

/// Answers every request with the same response.
struct ReplayClient: MetadataClient {
    var response: MetadataResponse
    func send(_ request: MetadataRequest, to endpoint: MetadataEndpoint, timeout: Duration) throws(PreemptionError) -> MetadataResponse {
        response
    }
}
