import Foundation

/// Compute Engine preemption (spot VMs and preemptible VMs) through the metadata server.
///
/// `GET /computeMetadata/v1/instance/preempted` with `Metadata-Flavor: Google` answers `FALSE`
/// until the instance is being preempted, then `TRUE`. Compute Engine gives a preempted VM about
/// 30 seconds before it is stopped, counted from the change, so the deadline is `grace` from the
/// moment the change is seen.
///
/// With `longPoll` set, every poll after the first waits on the server
/// (`?wait_for_change=true&last_etag=<etag>&timeout_sec=<n>`): the server answers as soon as the
/// value changes (at once if it already differs from `last_etag`), or after `n` seconds with the
/// unchanged value. This sees a notice within milliseconds instead of within one poll interval.
public struct GCEPreemptedProbe: PreemptionProbe {
    public static let path = "/computeMetadata/v1/instance/preempted"

    public let source = PreemptionNotice.Source.gcp
    public let endpoint: MetadataEndpoint
    let client: any MetadataClient
    let timeout: Duration
    let grace: Duration
    /// How long the server may hold a long-poll; nil = plain polling.
    let longPoll: Duration?
    /// The ETag of the last answer, so that a long-poll returns at once if the value changed
    /// between two polls.
    private var lastETag: String?

    public init(endpoint: MetadataEndpoint, client: any MetadataClient, timeout: Duration,
                grace: Duration = .seconds(30), longPoll: Duration? = nil) {
        self.endpoint = endpoint
        self.client = client
        self.timeout = timeout
        self.grace = grace
        self.longPoll = longPoll
    }

    /// RFC 3986 unreserved characters: an ETag made of them goes into the query as it is.
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// The request target of the next poll.
    var target: String {
        guard let longPoll, let lastETag else { return Self.path }
        let seconds = max(1, Int(longPoll.inSeconds.rounded(.up)))
        let etag = lastETag.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? lastETag
        return "\(Self.path)?wait_for_change=true&last_etag=\(etag)&timeout_sec=\(seconds)"
    }

    public mutating func check(now: ContinuousClock.Instant, wallClock: Date,
                               report: (PreemptionError) -> Void) throws(PreemptionError) -> PreemptionNotice? {
        let waiting = longPoll != nil && lastETag != nil
        let request = MetadataRequest(method: "GET", target: target, headers: [("Metadata-Flavor", "Google")])
        // A long-poll is allowed to take its own duration on top of the ordinary timeout.
        let response = try client.send(request, to: endpoint, timeout: timeout + (waiting ? longPoll ?? .zero : .zero))
        guard response.status == 200 else {
            lastETag = nil  // start over with a plain read next time
            throw PreemptionError(code: "preempt.http-status",
                                  "\(endpoint)\(Self.path) answered \(response.status): \(response.excerpt())")
        }
        lastETag = response.headers["etag"]
        let value = response.text.trimmingCharacters(in: .whitespacesAndNewlines)
        switch value.uppercased() {
        case "TRUE":
            // A long-poll returns when the change happens, which is later than `now`.
            let seen = waiting ? ContinuousClock.now : now
            return PreemptionNotice(source: .gcp, deadline: seen + grace, detail: "Compute Engine instance/preempted is TRUE")
        case "FALSE":
            return nil
        default:
            lastETag = nil
            throw PreemptionError(code: "preempt.malformed",
                                  "\(endpoint)\(Self.path) returned '\(response.excerpt(40))', expected TRUE or FALSE")
        }
    }
}
