import Core
import Wire

/// Who may become a member: protocol and model checks, capacity, one live member per connection,
/// a rate limit per connection, and a quarantine for processes that were ejected recently.
/// Pure: every call takes `now`.
public struct Admission: Sendable {
    public struct Settings: Sendable, Equatable {
        public var schemaHash: UInt64
        /// Named in a refusal, so that the worker's operator sees which model the run trains.
        public var schemaName: String
        /// Joins one connection may attempt within `rateWindow`; more are dropped unanswered.
        public var joinsPerWindow = 5
        public var rateWindow: Duration = .seconds(10)
        /// How long an ejected process waits as a joiner before it enters the ring again: doubled
        /// for every further ejection of the same process, up to `quarantineMax`.
        public var quarantineBase: Duration = .seconds(5)
        public var quarantineMax: Duration = .seconds(300)
        /// Connections and processes remembered for the limits above.
        public var remembered = 1024
        /// The ring's frames are sealed under a key per lease (runs with keys): joiners of a minor
        /// older than `Wire.sealedRingMinor`, whose rings would run over CurveZMQ, are refused.
        public var sealedRing = false

        public init(schemaHash: UInt64, schemaName: String) {
            self.schemaHash = schemaHash
            self.schemaName = schemaName
        }
    }

    public enum Verdict: Equatable, Sendable {
        /// Add as a joiner that enters the ring no earlier than `after`.
        case admit(after: ContinuousClock.Instant)
        case refuse(Wire.Reject.Reason, String)
        /// Over the rate limit: not worth an answer.
        case drop
    }

    public let settings: Settings
    private var attempts: [[UInt8]: [ContinuousClock.Instant]] = [:]
    private var ejections: [String: (count: Int, until: ContinuousClock.Instant)] = [:]

    public init(settings: Settings) { self.settings = settings }

    /// Decides on a `join` from `peer`. `liveAtPeer` is the live member already on that connection.
    public mutating func consider(_ join: Wire.Join, peer: [UInt8], liveAtPeer: WorkerID?, full: Bool,
                                  now: ContinuousClock.Instant) -> Verdict {
        var recent = (attempts[peer] ?? []).filter { $0.duration(to: now) < settings.rateWindow }
        recent.append(now)
        if attempts[peer] == nil && attempts.count >= settings.remembered { attempts.removeAll() }
        attempts[peer] = recent
        if recent.count > settings.joinsPerWindow { return .drop }
        guard join.major == Wire.major else {
            return .refuse(.protocolVersion, "worker speaks protocol \(join.major).\(join.minor), the coordinator \(Wire.major).\(Wire.minor)")
        }
        guard join.minor >= Wire.ringMinor else {
            return .refuse(.protocolVersion, "worker speaks protocol \(join.major).\(join.minor); the ring of protocol "
                + "\(Wire.major).\(Wire.ringMinor) and later sends frames the worker cannot read: run the same Grove build on every machine")
        }
        guard join.minor >= Wire.stateMinor, let stateEndpoint = join.stateEndpoint else {
            return .refuse(.protocolVersion, "worker speaks protocol \(join.major).\(join.minor) and serves no state; the coordinator "
                + "(\(Wire.major).\(Wire.minor)) streams a joiner's state from members' state servers (protocol \(Wire.major).\(Wire.stateMinor) and later): "
                + "run the same Grove build on every machine")
        }
        guard !settings.sealedRing || join.minor >= Wire.sealedRingMinor else {
            return .refuse(.protocolVersion, "worker speaks protocol \(join.major).\(join.minor); with keys the ring's frames are sealed "
                + "under a key per lease (protocol \(Wire.major).\(Wire.sealedRingMinor) and later), which this worker cannot do: "
                + "run the same Grove build on every machine")
        }
        guard join.schemaHash == settings.schemaHash else {
            return .refuse(.modelSchema, "worker's model schema \(String(join.schemaHash, radix: 16)) differs from the coordinator's "
                + "\(String(settings.schemaHash, radix: 16)) (\(settings.schemaName))")
        }
        do { _ = try Endpoint.parseAdvertised(join.ringEndpoint, origin: "ring endpoint") } catch {
            return .refuse(.malformed, "ring endpoint '\(LogText.escape(join.ringEndpoint))' \(error.problem)")
        }
        do { _ = try Endpoint.parseAdvertised(stateEndpoint, origin: "state endpoint") } catch {
            return .refuse(.malformed, "state endpoint '\(LogText.escape(stateEndpoint))' \(error.problem)")
        }
        if let live = liveAtPeer {
            return .refuse(.malformed, "this connection already holds member \(live); one connection, one member")
        }
        if full { return .refuse(.full, "the run already has workers.max workers") }
        let process = "\(join.host) pid \(join.pid)"
        let until = ejections[process].map { $0.until } ?? now
        return .admit(after: max(until, now))
    }

    /// A process was ejected: its next membership waits out a quarantine that doubles each time.
    public mutating func recordEjection(process: String, now: ContinuousClock.Instant) {
        let count = (ejections[process]?.count ?? 0) + 1
        var quarantine = settings.quarantineBase
        for _ in 1..<count where quarantine < settings.quarantineMax { quarantine = quarantine * 2 }
        if ejections[process] == nil && ejections.count >= settings.remembered { ejections.removeAll() }
        ejections[process] = (count, now + min(quarantine, settings.quarantineMax))
    }

    /// When an ejected process may enter the ring again.
    public func quarantine(of process: String) -> ContinuousClock.Instant? { ejections[process]?.until }
}
