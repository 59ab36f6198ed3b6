import Foundation

/// Azure Spot eviction through Scheduled Events in the instance metadata service.
///
/// `GET /metadata/scheduledevents?api-version=2020-07-01` with `Metadata: true` returns
/// `{"DocumentIncarnation": n, "Events": [...]}`. An event with `EventType` `Preempt` whose
/// `Resources` name this VM is a notice; its deadline is `NotBefore` (an RFC 1123 time, at least
/// 30 seconds ahead for Spot), or `grace` from now when `NotBefore` is empty (the event has
/// started) or unreadable.
///
/// Events are delivered to every VM of an availability set or scale-set placement group, so the
/// probe keeps only events naming this VM: `resourceName` if given, otherwise the name read once
/// from `/metadata/instance/compute/name`. Until that name is known every `Preempt` event counts:
/// an unneeded drain costs one step, a missed one costs the lease.
///
/// Azure turns Scheduled Events on for a VM at its first request and may take up to two minutes
/// to answer that one, so until a first answer arrives requests may take `firstAnswerTimeout`.
///
/// The probe never acknowledges an event by itself: acknowledging lets Azure evict at once, which
/// only the worker may decide after it has drained (see `acknowledge(eventID:...)`).
public struct AzureScheduledEventsProbe: PreemptionProbe {
    public static let path = "/metadata/scheduledevents?api-version=2020-07-01"
    public static let namePath = "/metadata/instance/compute/name?api-version=2020-09-01&format=text"

    public let source = PreemptionNotice.Source.azure
    public let endpoint: MetadataEndpoint
    let client: any MetadataClient
    let timeout: Duration
    let grace: Duration
    /// Bound on requests until the service has answered once.
    let firstAnswerTimeout: Duration
    private var answered = false
    public private(set) var resourceName: String?

    public init(endpoint: MetadataEndpoint, client: any MetadataClient, timeout: Duration,
                grace: Duration = .seconds(30), resourceName: String? = nil, firstAnswerTimeout: Duration = .seconds(120)) {
        self.endpoint = endpoint
        self.client = client
        self.timeout = timeout
        self.firstAnswerTimeout = max(timeout, firstAnswerTimeout)
        self.grace = grace
        self.resourceName = resourceName
    }

    public mutating func check(now: ContinuousClock.Instant, wallClock: Date,
                               report: (PreemptionError) -> Void) throws(PreemptionError) -> PreemptionNotice? {
        if resourceName == nil {
            do { resourceName = try lookUpName() } catch { report(error) }
        }
        let response = try client.send(MetadataRequest(method: "GET", target: Self.path, headers: [("Metadata", "true")]),
                                       to: endpoint, timeout: answered ? timeout : firstAnswerTimeout)
        answered = true
        guard response.status == 200 else {
            throw PreemptionError(code: "preempt.http-status", "\(endpoint)\(Self.path) answered \(response.status): \(response.excerpt())")
        }
        let document = try AzureScheduledEvents.parse(response.body, origin: "\(endpoint)\(Self.path)")
        let mine = document.events.first { event in
            event.eventType == "Preempt"
                && (resourceName == nil || event.resources.isEmpty || event.resources.contains(resourceName!))
        }
        guard let event = mine else { return nil }
        let detail = "Azure Scheduled Event \(event.eventID) Preempt (\(event.eventStatus ?? "status unknown"), "
            + "NotBefore '\(event.notBefore)', incarnation \(document.incarnation))"
        if event.notBefore.isEmpty {
            return PreemptionNotice(source: .azure, deadline: now + grace, detail: detail, eventID: event.eventID)
        }
        guard let notBefore = CloudTime.rfc1123(event.notBefore) else {
            report(PreemptionError(code: "preempt.malformed",
                                   "\(endpoint)\(Self.path): NotBefore '\(event.notBefore)' of event \(event.eventID) is not an RFC 1123 time; assuming \(grace)"))
            return PreemptionNotice(source: .azure, deadline: now + grace, detail: detail, eventID: event.eventID)
        }
        return PreemptionNotice(source: .azure, secondsFromNow: CloudTime.seconds(until: notBefore, wallClock: wallClock),
                                now: now, detail: detail, eventID: event.eventID)
    }

    private func lookUpName() throws(PreemptionError) -> String {
        let response = try client.send(MetadataRequest(method: "GET", target: Self.namePath, headers: [("Metadata", "true")]),
                                       to: endpoint, timeout: timeout)
        let name = response.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard response.status == 200, !name.isEmpty else {
            throw PreemptionError(code: "preempt.http-status",
                                  "\(endpoint)\(Self.namePath) answered \(response.status) '\(response.excerpt(60))'; counting every Preempt event as this VM's")
        }
        return name
    }

    /// Tells Azure the worker is ready for event `eventID` to proceed (it may then evict at once):
    /// `POST` `{"StartRequests": [{"EventId": ...}]}`.
    public static func acknowledge(eventID: String, endpoint: MetadataEndpoint, client: any MetadataClient,
                                   timeout: Duration) throws(PreemptionError) {
        struct Start: Encodable { var EventId: String }
        struct Body: Encodable { var StartRequests: [Start] }
        let body = (try? JSONEncoder().encode(Body(StartRequests: [Start(EventId: eventID)]))) ?? Data()
        let response = try client.send(MetadataRequest(method: "POST", target: path,
                                                       headers: [("Metadata", "true"), ("Content-Type", "application/json")],
                                                       body: Array(body)),
                                       to: endpoint, timeout: timeout)
        guard response.status == 200 else {
            throw PreemptionError(code: "preempt.http-status",
                                  "\(endpoint)\(path) answered \(response.status) to the StartRequests for event \(eventID): \(response.excerpt())")
        }
    }
}
