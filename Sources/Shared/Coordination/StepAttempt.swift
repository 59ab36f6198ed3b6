import Core
import Wire

/// One attempt at a step: dealt to the ring of one generation, answered by results or failure
/// reports, and then committed, or abandoned and dealt again.
public struct StepAttempt: Sendable {
    public var step: Step
    public var generation: Generation
    /// The ring members the step was dealt to, in ring order.
    public var members: [WorkerID]
    public var dealtAt: ContinuousClock.Instant
    /// The attempt is decided once this passes, whoever has not answered.
    public var deadline: ContinuousClock.Instant
    /// Rank 0 attaches its state to its result (a checkpoint or an evaluation is due, or a joiner
    /// waits for the state).
    public var wantState: Bool
    public var results: [WorkerID: Wire.StepResult] = [:]
    public var failures: [WorkerID: Wire.StepFailed] = [:]

    public init(step: Step, generation: Generation, members: [WorkerID], dealtAt: ContinuousClock.Instant,
                deadline: ContinuousClock.Instant, wantState: Bool) {
        self.step = step
        self.generation = generation
        self.members = members
        self.dealtAt = dealtAt
        self.deadline = deadline
        self.wantState = wantState
    }

    /// Members that have answered neither way.
    public var silent: [WorkerID] { members.filter { results[$0] == nil && failures[$0] == nil } }

    /// How an attempt ends.
    public enum Verdict: Equatable, Sendable {
        /// Not yet decidable.
        case wait
        /// A strict majority of members hold `hash`; `dissenting` members hold another and are ejected.
        case commit(hash: [UInt8], dissenting: [WorkerID])
        /// The attempt is given up; `culprits` are ejected, with why.
        case abandon(culprits: [Culprit])
    }

    public struct Culprit: Equatable, Sendable {
        public var id: WorkerID
        public var reason: String
        public var cause: RedoCause
    }

    /// Decides the attempt, or says to wait.
    ///
    /// - Every member answered with a result: a hash held by a strict majority commits and the
    ///   others are ejected; a tie commits nothing, and everyone outside the group of the oldest
    ///   member is ejected (the step is redone by the rest).
    /// - A member failed on its own (no suspect): abandoned at once, that member ejected.
    /// - Otherwise, once everyone answered or the deadline passed: members that stayed silent are
    ///   ejected; if none did, the suspect of the report that saw the fewest frames from its
    ///   suspect is (the fault is nearest there: a ring stalls downstream of a cut link), ties
    ///   going to the suspect named most often, then to the newest member.
    public func verdict(now: ContinuousClock.Instant) -> Verdict {
        if results.count == members.count { return agreement() }
        if let own = failures.sorted(by: { $0.key < $1.key }).first(where: { $0.value.suspect == WorkerID(0) || !members.contains($0.value.suspect) }) {
            let what = own.value.suspect == WorkerID(0) ? "failed step \(step): \(own.value.code)" : "blamed \(own.value.suspect), not a member of step \(step)"
            return .abandon(culprits: [Culprit(id: own.key, reason: "\(what) (\(LogText.escape(own.value.text, limit: 200)))", cause: .memberFault)])
        }
        let silent = self.silent
        guard silent.isEmpty || now >= deadline else { return .wait }
        if !silent.isEmpty {
            let seconds = dealtAt.duration(to: now).inSeconds
            return .abandon(culprits: silent.map {
                Culprit(id: $0, reason: "silent on its lease of step \(step) for \(String(format: "%.1f", seconds)) s", cause: .stall)
            })
        }
        // Everyone answered, some with failures that name a suspect.
        var blame: [WorkerID: Int] = [:]
        for failure in failures.values { blame[failure.suspect, default: 0] += 1 }
        let worst = failures.values.min { a, b in
            if a.framesFromSuspect != b.framesFromSuspect { return a.framesFromSuspect < b.framesFromSuspect }
            let (ba, bb) = (blame[a.suspect] ?? 0, blame[b.suspect] ?? 0)
            if ba != bb { return ba > bb }
            return a.suspect > b.suspect
        }!
        let reporters = failures.filter { $0.value.suspect == worst.suspect }.keys.sorted().map { "\($0)" }.joined(separator: ", ")
        return .abandon(culprits: [Culprit(
            id: worst.suspect,
            reason: "its ring link failed in step \(step) (\(worst.code), reported by \(reporters) after \(worst.framesFromSuspect) frames)",
            cause: .linkFault)])
    }

    private func agreement() -> Verdict {
        var groups: [[UInt8]: [WorkerID]] = [:]
        for (id, result) in results { groups[result.weightsHash, default: []].append(id) }
        if groups.count == 1 { return .commit(hash: groups.keys.first!, dissenting: []) }
        let largest = groups.values.map(\.count).max()!
        let leaders = groups.filter { $0.value.count == largest }
        if leaders.count == 1, largest * 2 > members.count {
            let (hash, _) = leaders.first!
            let dissenting = results.filter { $0.value.weightsHash != hash }.keys.sorted()
            return .commit(hash: hash, dissenting: dissenting)
        }
        // No strict majority: keep the group of the oldest member, redo the step without the rest.
        let oldest = members.min()!
        let keep = results[oldest]!.weightsHash
        let culprits = results.filter { $0.value.weightsHash != keep }.keys.sorted().map {
            Culprit(id: $0, reason: "its weights after step \(step) disagree with \(oldest)'s and no majority decides", cause: .disagreement)
        }
        return .abandon(culprits: culprits)
    }
}

/// Why a step was dealt again.
public enum RedoCause: String, Sendable, Equatable, CaseIterable {
    /// A member was declared down (killed, crashed, stopped, cut off from the coordinator).
    case failure
    /// A member left after a preemption notice.
    case drain
    /// A member left for another reason.
    case leave
    /// A member stayed silent on its lease past the step's deadline.
    case stall
    /// A ring link between members failed.
    case linkFault = "link-fault"
    /// A member's weights disagreed with the others'.
    case disagreement
    /// A member failed on its own (a bad sample it could not read, an invalid lease, ...).
    case memberFault = "member-fault"
    /// The coordinator was told to stop, or stopped the run, with the step in flight.
    case stop
}
