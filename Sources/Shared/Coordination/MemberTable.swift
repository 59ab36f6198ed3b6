import Core

/// Who is in the run, in which generation, and who has gone quiet: membership and failure
/// detection, with no clock of its own (every call takes `now`).
///
/// A member's status only moves forward (`joining < up < draining < down`). A `down` member never
/// comes back: a restarted or ejected process joins again as a new member with a new id. Down
/// members are kept only to answer a process that still speaks as its old self, and only the
/// newest `Settings.formerMembersKept` of them, so the table stays bounded however long a run lasts.
public struct MemberTable: Sendable {
    public enum Status: Int, Comparable, Sendable, CustomStringConvertible {
        case joining, up, draining, down
        public static func < (a: Status, b: Status) -> Bool { a.rawValue < b.rawValue }
        public var description: String {
            switch self {
            case .joining: "joining"
            case .up: "up"
            case .draining: "draining"
            case .down: "down"
            }
        }
    }

    public struct Member: Sendable, Equatable {
        public var id: WorkerID
        public var incarnation: Incarnation
        /// The transport's address of the member's connection (the ROUTER routing id).
        public var peer: [UInt8]
        public var ringEndpoint: String
        /// Where the member's state server listens (joiners and the coordinator fetch from it).
        public var stateEndpoint: String
        public var host: String
        public var pid: UInt32
        public var status: Status
        public var lastHeard: ContinuousClock.Instant
        /// A joiner enters the ring no earlier than this (a process ejected recently waits out
        /// its quarantine as a joiner, so that a flapping link cannot cost a step every time).
        public var admitAfter: ContinuousClock.Instant
        /// Why the member went down, once it has.
        public var downReason: String?

        /// Host and process id: what recognises a process that comes back as a new member.
        public var process: String { "\(host) pid \(pid)" }
    }

    public struct Settings: Sendable, Equatable {
        public var heartbeatInterval: Duration
        public var missedHeartbeats: Int
        public var maxMembers: Int
        /// Down members remembered to recognise their processes when they speak again.
        public var formerMembersKept: Int
        public init(heartbeatInterval: Duration = .seconds(1), missedHeartbeats: Int = 3, maxMembers: Int = 64,
                    formerMembersKept: Int = 256) {
            self.heartbeatInterval = heartbeatInterval
            self.missedHeartbeats = missedHeartbeats
            self.maxMembers = maxMembers
            self.formerMembersKept = formerMembersKept
        }
        /// Silence longer than this declares a member down.
        public var timeout: Duration { heartbeatInterval * missedHeartbeats }
    }

    public let settings: Settings
    public private(set) var members: [WorkerID: Member] = [:]
    public private(set) var generation = Generation(0)
    private var nextID: UInt32 = 1
    /// The live member on each connection: every control message is looked up by its connection,
    /// and a scan of `members` (the former members too, up to `formerMembersKept`) per message
    /// made each heartbeat and result cost grow with the run's history.
    private var livePeers: [[UInt8]: WorkerID] = [:]
    /// Every generation so far, for the summary.
    public private(set) var generationsStarted = 0

    public init(settings: Settings) { self.settings = settings }

    /// Members not yet down.
    public var live: [Member] { members.values.filter { $0.status < .down }.sorted { $0.id < $1.id } }

    /// The ring of the current generation: members that are up, in id order.
    public var ring: [Member] { members.values.filter { $0.status == .up }.sorted { $0.id < $1.id } }

    public var joining: [Member] { members.values.filter { $0.status == .joining }.sorted { $0.id < $1.id } }

    public var isFull: Bool { members.values.filter { $0.status < .down }.count >= settings.maxMembers }

    /// Adds a member as `joining` and returns its id (admission has checked capacity).
    public mutating func add(incarnation: Incarnation, peer: [UInt8], ringEndpoint: String, stateEndpoint: String = "", host: String, pid: UInt32,
                             admitAfter: ContinuousClock.Instant, now: ContinuousClock.Instant) -> WorkerID {
        let id = WorkerID(nextID)
        nextID += 1
        livePeers[peer] = id
        members[id] = Member(id: id, incarnation: incarnation, peer: peer, ringEndpoint: ringEndpoint, stateEndpoint: stateEndpoint,
                             host: host, pid: pid, status: .joining, lastHeard: now, admitAfter: admitAfter)
        return id
    }

    /// Anything heard from a member counts as a heartbeat, if it comes from its current incarnation.
    @discardableResult
    public mutating func heard(from id: WorkerID, incarnation: Incarnation, now: ContinuousClock.Instant) -> Bool {
        guard var member = members[id], member.incarnation == incarnation, member.status < .down else { return false }
        member.lastHeard = max(member.lastHeard, now)
        members[id] = member
        return true
    }

    /// Moves `joining` members to `up`; returns the new generation when the ring changed.
    public mutating func admit(_ ids: [WorkerID]) -> Generation? {
        var changed = false
        for id in ids where members[id]?.status == .joining {
            members[id]!.status = .up
            changed = true
        }
        return changed ? startGeneration() : nil
    }

    /// A ring member announced that it will leave soon (a preemption notice) after reporting the
    /// step in flight: it stays a member of this generation until that attempt is decided, but is
    /// no longer in `ring`, so it is dealt nothing more and asked for no state.
    public mutating func markDraining(_ id: WorkerID) {
        if members[id]?.status == .up { members[id]!.status = .draining }
    }

    /// Takes a member out of the run (it left, went silent, or was ejected); returns the new
    /// generation when it was part of the ring.
    public mutating func remove(_ id: WorkerID, reason: String) -> Generation? {
        guard let member = members[id], member.status < .down else { return nil }
        members[id]!.status = .down
        if livePeers[member.peer] == id { livePeers[member.peer] = nil }
        members[id]!.downReason = reason
        prune()
        return member.status >= .up ? startGeneration() : nil
    }

    /// Live members silent for longer than the timeout, with how long, in id order.
    public func silent(now: ContinuousClock.Instant) -> [(id: WorkerID, silence: Duration)] {
        live.compactMap { member in
            let silence = member.lastHeard.duration(to: now)
            return silence > settings.timeout ? (member.id, silence) : nil
        }
    }

    /// The live member on a connection.
    public func member(peer: [UInt8]) -> Member? {
        livePeers[peer].flatMap { members[$0] }.flatMap { $0.status < .down ? $0 : nil }
    }

    /// The newest former member on `peer`, when no live member is there: a process that was
    /// declared down (stopped, cut off, ejected) and now speaks again as its old incarnation.
    public func formerMember(peer: [UInt8]) -> Member? {
        guard member(peer: peer) == nil else { return nil }
        return members.values.filter { $0.peer == peer }.max { $0.id < $1.id }
    }

    /// The newest former member that ran as `process` (host and pid), to recognise a rejoin.
    public func formerMember(process: String) -> Member? {
        members.values.filter { $0.status == .down && $0.process == process }.max { $0.id < $1.id }
    }

    /// Starts a new generation without a membership change: fences off an abandoned attempt, so
    /// that its late messages are dropped and every member's collective gives up at once.
    public mutating func startGeneration() -> Generation {
        generation = generation.next
        generationsStarted += 1
        return generation
    }

    private mutating func prune() {
        let down = members.values.filter { $0.status == .down }
        guard down.count > settings.formerMembersKept else { return }
        for member in down.sorted(by: { $0.id < $1.id }).prefix(down.count - settings.formerMembersKept) {
            members[member.id] = nil
        }
    }
}
