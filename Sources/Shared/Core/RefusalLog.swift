/// Refused peers, counted, and the decision when to log one: at most once per peer per
/// `interval`, so that a flood of handshakes from one address costs one log line a minute, not
/// one per attempt. Pure: the caller passes the time and does the logging.
public struct RefusalLog: Sendable {
    public let interval: Duration
    /// Every refusal so far.
    public private(set) var total = 0
    /// Refusals per reason (`unknown key`, `not a member of this generation`…).
    public private(set) var byReason: [String: Int] = [:]
    /// When each peer was last logged, and how many of its refusals went unlogged since.
    private var peers: [String: (logged: ContinuousClock.Instant, quiet: Int)] = [:]
    /// Peers remembered at most; the oldest are forgotten first (a flood from many addresses
    /// cannot grow this without bound).
    public let maxPeers: Int

    public init(interval: Duration = .seconds(60), maxPeers: Int = 4096) {
        self.interval = interval
        self.maxPeers = maxPeers
    }

    /// Counts one refusal of `peer`; returns the number of refusals of that peer not logged
    /// before this one when this one should be logged, nil when it should not.
    public mutating func onRefused(peer: String, reason: String, now: ContinuousClock.Instant) -> Int? {
        total += 1
        byReason[reason, default: 0] += 1
        if let seen = peers[peer], seen.logged.duration(to: now) < interval {
            peers[peer] = (seen.logged, seen.quiet + 1)
            return nil
        }
        let quiet = peers[peer]?.quiet ?? 0
        if peers[peer] == nil, peers.count >= maxPeers {
            // Forget peers whose minute is over; if none is, the oldest.
            peers = peers.filter { $0.value.logged.duration(to: now) < interval }
            if peers.count >= maxPeers, let oldest = peers.min(by: { $0.value.logged < $1.value.logged })?.key {
                peers[oldest] = nil
            }
        }
        peers[peer] = (now, 0)
        return quiet
    }
}
