import Core

/// Who is in the run, in which generation, and who has gone quiet. A pure state machine: events
/// and the current time go in, directives come out; the coordinator's shell does the I/O.
///
/// A member's status only moves forward (`joining < up < draining < down`). A `down` member never
/// comes back: a restarted process joins again as a new member with a new id.
public struct Membership: Sendable {
    public enum Status: Int, Comparable, Sendable {
        case joining, up, draining, down
        public static func < (a: Status, b: Status) -> Bool { a.rawValue < b.rawValue }
    }

    public struct Member: Sendable, Equatable {
        public var id: WorkerID
        public var incarnation: Incarnation
        /// The transport's address of the member (the ROUTER routing id).
        public var peer: [UInt8]
        public var ringEndpoint: String
        public var host: String
        public var status: Status
        public var lastHeard: ContinuousClock.Instant
    }

    public enum Directive: Equatable, Sendable {
        /// The member missed too many heartbeats.
        case down(WorkerID, reason: String)
        /// The set of ring members changed; a new generation begins.
        case newGeneration(Generation)
    }

    public struct Settings: Sendable, Equatable {
        public var heartbeatInterval: Duration
        public var missedHeartbeats: Int
        public var maxMembers: Int
        public init(heartbeatInterval: Duration = .seconds(1), missedHeartbeats: Int = 3, maxMembers: Int = 64) {
            self.heartbeatInterval = heartbeatInterval
            self.missedHeartbeats = missedHeartbeats
            self.maxMembers = maxMembers
        }
        /// Silence longer than this declares a member down.
        public var timeout: Duration { heartbeatInterval * missedHeartbeats }
    }

    public let settings: Settings
    public private(set) var members: [WorkerID: Member] = [:]
    public private(set) var generation = Generation(0)
    private var nextID: UInt32 = 1
    /// Every generation so far, for the summary.
    public private(set) var generationsStarted = 0

    public init(settings: Settings) { self.settings = settings }

    /// Admits a new member as `joining`; nil when the run is full.
    public mutating func onJoin(incarnation: Incarnation, peer: [UInt8], ringEndpoint: String, host: String,
                                now: ContinuousClock.Instant) -> WorkerID? {
        guard members.values.filter({ $0.status < .down }).count < settings.maxMembers else { return nil }
        let id = WorkerID(nextID)
        nextID += 1
        members[id] = Member(id: id, incarnation: incarnation, peer: peer, ringEndpoint: ringEndpoint, host: host,
                             status: .joining, lastHeard: now)
        return id
    }

    /// Anything heard from a member counts as a heartbeat, if it comes from its current incarnation.
    public mutating func onHeard(from id: WorkerID, incarnation: Incarnation, now: ContinuousClock.Instant) -> Bool {
        guard var member = members[id], member.incarnation == incarnation, member.status < .down else { return false }
        member.lastHeard = now
        members[id] = member
        return true
    }

    /// Moves `joining` members to `up` and starts a new generation with them in the ring: done at a
    /// step boundary, once they hold the current state.
    public mutating func admit(_ ids: [WorkerID]) -> [Directive] {
        var changed = false
        for id in ids where members[id]?.status == .joining {
            members[id]!.status = .up
            changed = true
        }
        return changed ? [startGeneration()] : []
    }

    /// A member announced its departure (drain or shutdown).
    public mutating func onLeave(_ id: WorkerID) -> [Directive] {
        guard let member = members[id], member.status < .down else { return [] }
        let wasRing = member.status == .up || member.status == .draining
        members[id]!.status = .down
        return wasRing ? [startGeneration()] : []
    }

    /// Declares silent members down.
    public mutating func onTick(now: ContinuousClock.Instant) -> [Directive] {
        var directives: [Directive] = []
        var ringChanged = false
        for id in members.keys.sorted() {
            let member = members[id]!
            guard member.status < .down, member.lastHeard.duration(to: now) > settings.timeout else { continue }
            members[id]!.status = .down
            directives.append(.down(id, reason: "no heartbeat for \(member.lastHeard.duration(to: now).inSeconds) s"))
            if member.status >= .up { ringChanged = true }
        }
        if ringChanged { directives.append(startGeneration()) }
        return directives
    }

    /// The ring of the current generation: members that are up, in id order.
    public var ring: [Member] {
        members.values.filter { $0.status == .up }.sorted { $0.id < $1.id }
    }

    public var joining: [Member] {
        members.values.filter { $0.status == .joining }.sorted { $0.id < $1.id }
    }

    public func member(peer: [UInt8]) -> Member? {
        members.values.first { $0.peer == peer && $0.status < .down }
    }

    /// The newest member at `peer` that was declared down or left, when no live member is there:
    /// a process that was stopped (or cut off) past its timeout and now speaks again, still as
    /// its old incarnation.
    public func formerMember(peer: [UInt8]) -> Member? {
        guard member(peer: peer) == nil else { return nil }
        return members.values.filter { $0.peer == peer }.max { $0.id < $1.id }
    }

    private mutating func startGeneration() -> Directive {
        generation = generation.next
        generationsStarted += 1
        return .newGeneration(generation)
    }
}
