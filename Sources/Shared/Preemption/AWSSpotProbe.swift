import Foundation

/// EC2 spot interruption notices through the instance metadata service, IMDSv2 style.
///
/// Each poll sends `GET /latest/meta-data/spot/instance-action` with a session token obtained by
/// `PUT /latest/api/token`. 404 means no interruption is scheduled; 200 carries
/// `{"action": "terminate" | "stop" | "hibernate", "time": "<ISO 8601 UTC>"}`, about two minutes
/// ahead. The token is renewed a minute before it expires, and once more at once if the service
/// answers 401 (it restarted, or the token was revoked).
public struct AWSSpotProbe: PreemptionProbe {
    public static let tokenPath = "/latest/api/token"
    public static let actionPath = "/latest/meta-data/spot/instance-action"
    public static let tokenTTLHeader = "X-aws-ec2-metadata-token-ttl-seconds"
    public static let tokenHeader = "X-aws-ec2-metadata-token"

    public let source = PreemptionNotice.Source.aws
    public let endpoint: MetadataEndpoint
    let client: any MetadataClient
    let timeout: Duration
    /// Lifetime asked for each token, in seconds (IMDS allows 1...21600).
    public let tokenTTL: Int
    /// Renew this long before the token's lifetime ends, so a token never expires in flight.
    let renewMargin: Duration

    private var token: String?
    private var tokenExpires: ContinuousClock.Instant?
    /// How many tokens this probe has fetched; for tests and logs.
    public private(set) var tokensFetched = 0

    public init(endpoint: MetadataEndpoint, client: any MetadataClient, timeout: Duration, tokenTTL: Int = 21600) {
        self.endpoint = endpoint
        self.client = client
        self.timeout = timeout
        self.tokenTTL = min(max(tokenTTL, 1), 21600)
        renewMargin = .seconds(min(60, self.tokenTTL / 2))
    }

    public mutating func check(now: ContinuousClock.Instant, wallClock: Date,
                               report: (PreemptionError) -> Void) throws(PreemptionError) -> PreemptionNotice? {
        if token == nil || tokenExpires.map({ now >= $0 - renewMargin }) ?? true {
            try fetchToken(now: now)
        }
        var response = try fetchAction()
        if response.status == 401 {
            token = nil
            try fetchToken(now: now)
            response = try fetchAction()
        }
        switch response.status {
        case 404:
            return nil
        case 200:
            let action = try AWSInstanceAction.parse(response.body, origin: "\(endpoint)\(Self.actionPath)")
            return PreemptionNotice(source: .aws, secondsFromNow: CloudTime.seconds(until: action.time, wallClock: wallClock),
                                    now: now, detail: "EC2 spot instance-action '\(action.action)' at \(action.timeText)")
        default:
            throw PreemptionError(code: "preempt.http-status",
                                  "\(endpoint)\(Self.actionPath) answered \(response.status): \(response.excerpt())")
        }
    }

    private mutating func fetchToken(now: ContinuousClock.Instant) throws(PreemptionError) {
        let request = MetadataRequest(method: "PUT", target: Self.tokenPath, headers: [(Self.tokenTTLHeader, String(tokenTTL))])
        let response = try client.send(request, to: endpoint, timeout: timeout)
        guard response.status == 200 else {
            throw PreemptionError(code: "preempt.http-status",
                                  "\(endpoint)\(Self.tokenPath) answered \(response.status) to the token request: \(response.excerpt())")
        }
        let text = response.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, !text.contains(where: { $0.isNewline }) else {
            throw PreemptionError(code: "preempt.malformed", "\(endpoint)\(Self.tokenPath) returned an empty or multi-line token")
        }
        token = text
        tokenExpires = now + .seconds(tokenTTL)
        tokensFetched += 1
    }

    private func fetchAction() throws(PreemptionError) -> MetadataResponse {
        let request = MetadataRequest(method: "GET", target: Self.actionPath, headers: [(Self.tokenHeader, token ?? "")])
        return try client.send(request, to: endpoint, timeout: timeout)
    }
}
