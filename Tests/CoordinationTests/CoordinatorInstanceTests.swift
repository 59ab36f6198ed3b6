import Core
import Testing
import Wire
@testable import Coordination

/// Direct cases for the coordinator fixes the simulation tier found; the simulation covers the rest.
@Suite struct CoordinatorInstanceTests {
    let t0 = ContinuousClock.now

    func coordinator(workersMin: Int = 1, startQuorum: Int = 1) -> CoordinatorInstance {
        let policy = RunPolicy(totalSteps: 10, checkpointInterval: 0, evaluationInterval: 0, hasValidation: false, workersMin: workersMin,
                               startQuorum: startQuorum, waitForWorkers: .seconds(60), collectiveTimeout: .seconds(1),
                               heartbeatTimeout: .seconds(3), stepTimeout: .seconds(10), drainTimeout: .seconds(3))
        var admission = Admission.Settings(schemaHash: 1, schemaName: "m")
        admission.quarantineBase = .zero
        return CoordinatorInstance(settings: CoordinatorInstance.Settings(
            runConfig: Wire.RunConfig(runName: "t", configYAML: ""), members: MemberTable.Settings(),
            admission: admission, policy: policy, plan: StepPlan(sampleCount: 100, globalBatch: 4, microBatch: 2, seed: 1)))
    }

    func envelope(_ kind: Wire.Kind, _ sender: UInt32, generation: Generation = .none) -> Wire.Envelope {
        Wire.Envelope(kind: kind, generation: generation, sender: WorkerID(sender), incarnation: Incarnation(UInt64(sender) + 100))
    }

    @discardableResult
    func join(_ c: inout CoordinatorInstance, _ n: UInt8, at now: ContinuousClock.Instant) -> WorkerID? {
        let join = Wire.Join(schemaHash: 1, ringEndpoint: "tcp://h\(n):1", host: "h\(n)", pid: UInt32(n), stateEndpoint: "tcp://h\(n):2")
        for d in c.onMessage(.join(join), envelope: envelope(.join, 0), from: [n], now: now) {
            if case .send(.welcome(let w), _) = d { return w.worker }
        }
        return nil
    }

    func sends(_ directives: [CoordinatorInstance.Directive]) -> [(Wire.Message, [UInt8])] {
        directives.compactMap { if case .send(let m, let p) = $0 { (m, p) } else { nil } }
    }

    @Test func aProcessSpeakingAsAnUnknownMemberIsToldToJoinAgain() {
        var c = coordinator()
        let out = c.onMessage(.heartbeat(Wire.Heartbeat(committedStep: 3)), envelope: envelope(.heartbeat, 17), from: [9], now: t0)
        guard case .reject(let reject) = sends(out).first?.0 else { Issue.record("no answer: \(out)"); return }
        #expect(reject.reason == .declaredDown)
        #expect(sends(out).first?.1 == [9])
        #expect(c.onMessage(.heartbeat(Wire.Heartbeat(committedStep: 3)), envelope: envelope(.heartbeat, 17), from: [9],
                            now: t0 + .milliseconds(10)).isEmpty, "told at most once per heartbeat interval")
        #expect(c.onMessage(.heartbeat(Wire.Heartbeat(committedStep: 0)), envelope: envelope(.heartbeat, 0), from: [8], now: t0).isEmpty,
                "a process not yet welcomed is not a stranger")
    }

    /// Results of step 1 from `members` (peer = member id), all with the same weights hash.
    func report(_ c: inout CoordinatorInstance, _ members: [WorkerID], step: UInt64, at now: ContinuousClock.Instant) throws -> [CoordinatorInstance.Directive] {
        let attempt = try #require(c.attempt)
        var out: [CoordinatorInstance.Directive] = []
        for id in members {
            let result = Wire.StepResult(step: step, losses: [], weightsHash: [7], dataNanos: 0, computeNanos: 0, reduceNanos: 0,
                                         reduceBytes: 0, state: nil)
            out += c.onMessage(.stepResult(result), envelope: envelope(.stepResult, id.rawValue, generation: attempt.generation),
                               from: [UInt8(id.rawValue)], now: now)
        }
        return out
    }

    /// A preempted member whose result is in drains: the step commits with its share and the next
    /// is dealt without it — nothing is redone.
    @Test func aMemberDrainingAfterItsResultCostsNoStep() throws {
        var c = coordinator()
        let a = try #require(join(&c, 1, at: t0)), b = try #require(join(&c, 2, at: t0))
        _ = c.onTick(now: t0 + .milliseconds(100))
        let first = try #require(c.attempt)
        #expect(first.members == [a, b])
        _ = try report(&c, [b], step: 1, at: t0 + .milliseconds(150))
        let left = c.onMessage(.leave(Wire.Leave(reason: .drain, text: "spot")), envelope: envelope(.leave, b.rawValue), from: [2],
                               now: t0 + .milliseconds(160))
        #expect(!left.contains { if case .event(.abandoned) = $0 { true } else { false } }, "\(left)")
        #expect(c.attempt?.step == Step.first, "the attempt goes on")
        #expect(c.table.members[b]?.status == .draining)
        let out = try report(&c, [a], step: 1, at: t0 + .milliseconds(200))
        #expect(out.contains { if case .commit(let record) = $0 { record.members == [a, b] } else { false } }, "\(out)")
        #expect(c.committed == 1 && c.counters.redealtSteps == 0 && c.counters.drains == 1)
        #expect(c.table.members[b]?.status == .down, "out of the run once its step is decided")
        _ = c.onTick(now: t0 + .milliseconds(300))
        let next = try #require(c.attempt)
        #expect(next.step == Step(ordinal: 2) && next.members == [a] && next.generation > first.generation)
    }

    /// A drain announced before the member's result (the notice came mid-step): the result still
    /// counts when it comes.
    @Test func aMemberDrainingBeforeItsResultStillCounts() throws {
        var c = coordinator()
        let a = try #require(join(&c, 1, at: t0)), b = try #require(join(&c, 2, at: t0))
        _ = c.onTick(now: t0 + .milliseconds(100))
        _ = c.onMessage(.leave(Wire.Leave(reason: .drain, text: "spot")), envelope: envelope(.leave, b.rawValue), from: [2],
                        now: t0 + .milliseconds(110))
        #expect(c.table.members[b]?.status == .draining && c.attempt != nil)
        _ = try report(&c, [a, b], step: 1, at: t0 + .milliseconds(150))
        #expect(c.committed == 1 && c.counters.redealtSteps == 0 && c.table.members[b]?.status == .down)
    }

    /// A draining member whose result never comes: its silence ends the attempt, which is dealt
    /// again without it.
    @Test func aDrainingMemberThatFallsSilentCostsOnlyItsAttempt() throws {
        var c = coordinator()
        let a = try #require(join(&c, 1, at: t0)), b = try #require(join(&c, 2, at: t0))
        _ = c.onTick(now: t0 + .milliseconds(100))
        _ = c.onMessage(.leave(Wire.Leave(reason: .drain, text: "spot")), envelope: envelope(.leave, b.rawValue), from: [2],
                        now: t0 + .milliseconds(110))
        _ = try report(&c, [a], step: 1, at: t0 + .milliseconds(150))
        for tick in 1...20 {
            let now = t0 + .milliseconds(150 + 250 * tick)
            // The incarnation it joined with (`join` sends sender 0).
            _ = c.onMessage(.heartbeat(Wire.Heartbeat(committedStep: 0)), envelope: envelope(.heartbeat, 0), from: [1], now: now)
            _ = c.onTick(now: now)
        }
        #expect(c.table.members[b]?.status == .down)
        #expect(c.counters.redealtSteps >= 1 && c.attempt?.members == [a], "step 1 is dealt again to the other member: \(String(describing: c.attempt))")
    }

    /// Two members train and commit step 1 (nothing due: the shell still holds step 0).
    func twoMembersCommitOneStep(_ c: inout CoordinatorInstance) throws -> (WorkerID, WorkerID, [CoordinatorInstance.Directive]) {
        let a = try #require(join(&c, 1, at: t0)), b = try #require(join(&c, 2, at: t0))
        let first = c.onTick(now: t0 + .milliseconds(100))
        let source = first.compactMap { if case .sendState(_, let step, _, let sources) = $0 { (step, sources) } else { nil } }.first
        #expect(source?.0 == 0 && source?.1.map(\.worker) == [WorkerID(0)], "the first state comes from the shell's own server: \(first)")
        let attempt = try #require(c.attempt)
        var out: [CoordinatorInstance.Directive] = []
        for (id, peer) in [(a, UInt8(1)), (b, UInt8(2))] {
            let result = Wire.StepResult(step: 1, losses: [], weightsHash: [7], dataNanos: 0, computeNanos: 0, reduceNanos: 0,
                                         reduceBytes: 0, state: nil)
            out += c.onMessage(.stepResult(result), envelope: envelope(.stepResult, id.rawValue, generation: attempt.generation), from: [peer],
                               now: t0 + .milliseconds(200))
        }
        #expect(c.committed == 1 && c.heldStateStep == 0)
        return (a, b, out)
    }

    @Test func joinersBelowTheQuorumFetchTheStateFromTheRing() throws {
        // A member leaves after step 1, the ring is below workers.min = 2; a joiner arrives. The
        // shell holds only step 0, so the joiner is pointed at the ring member alone.
        var c = coordinator(workersMin: 2, startQuorum: 2)
        let (a, b, _) = try twoMembersCommitOneStep(&c)
        _ = c.onMessage(.leave(Wire.Leave(reason: .drain, text: "spot")), envelope: envelope(.leave, b.rawValue), from: [2],
                        now: t0 + .milliseconds(300))
        join(&c, 3, at: t0 + .milliseconds(400))
        let out = c.onTick(now: t0 + .milliseconds(500))
        let sent = out.compactMap { if case .sendState(let to, let step, let hash, let sources) = $0 { (to, step, hash, sources) } else { nil } }
        #expect(sent.count == 1, "\(out)")
        #expect(sent.first?.0 == [[3]] && sent.first?.1 == 1 && sent.first?.2 == [7])
        #expect(sent.first?.3 == [Wire.Member(worker: a, ringEndpoint: "tcp://h1:2")], "only the ring member holds step 1")
        #expect(c.attempt?.step == Step(ordinal: 2) && c.attempt?.members.count == 2, "the joiner enters the ring at once")
        #expect(!out.contains { if case .fetchState = $0 { true } else { false } }, "the coordinator does not fetch it for the joiner")
    }

    @Test func aDueCheckpointStreamsTheStateFromAnAgreeingMember() throws {
        let policy = RunPolicy(totalSteps: 10, checkpointInterval: 1, evaluationInterval: 0, hasValidation: false, workersMin: 2,
                               startQuorum: 2, waitForWorkers: .seconds(60), collectiveTimeout: .seconds(1),
                               heartbeatTimeout: .seconds(3), stepTimeout: .seconds(10), drainTimeout: .seconds(3))
        var c = CoordinatorInstance(settings: CoordinatorInstance.Settings(
            runConfig: Wire.RunConfig(runName: "t", configYAML: ""), members: MemberTable.Settings(),
            admission: Admission.Settings(schemaHash: 1, schemaName: "m"), policy: policy,
            plan: StepPlan(sampleCount: 100, globalBatch: 4, microBatch: 2, seed: 1)))
        let (a, b, out) = try twoMembersCommitOneStep(&c)
        let fetch = out.compactMap { if case .fetchState(let step, let hash, let sources) = $0 { (step, hash, sources) } else { nil } }
        #expect(fetch.count == 1, "\(out)")
        #expect(fetch.first?.0 == 1 && fetch.first?.1 == [7])
        #expect(fetch.first?.2.map(\.worker) == [a, b] && fetch.first?.2.first?.ringEndpoint == "tcp://h1:2")
        // A source that fails is not blamed; one whose state does not match is ejected.
        let failed = c.onStateFetchFailed(from: a, step: 1, reason: "gone", now: t0 + .milliseconds(300))
        #expect(failed.allSatisfy { if case .event = $0 { true } else { false } }, "\(failed)")
        #expect(c.table.members[a]?.status == .up)
        let stored = c.onStateStored(step: 1, now: t0 + .milliseconds(400))
        #expect(stored.contains { if case .checkpoint(step: 1) = $0 { true } else { false } }, "\(stored)")
    }

    @Test func theStopStreamsTheLastCommitFromOneMemberAtATime() throws {
        var c = coordinator(workersMin: 2, startQuorum: 2)
        let (a, b, _) = try twoMembersCommitOneStep(&c)
        let out = c.onStopRequested("test", now: t0 + .milliseconds(300))
        let fetch = out.compactMap { if case .fetchState(let step, _, let sources) = $0 { (step, sources) } else { nil } }
        #expect(fetch.first?.0 == 1 && fetch.first?.1.map(\.worker) == [a], "\(out)")
        // That member cannot serve it: the next turn asks the other.
        let next = c.onStateFetchFailed(from: a, step: 1, reason: "timed out", now: t0 + .milliseconds(400))
        let again = next.compactMap { if case .fetchState(_, _, let sources) = $0 { sources.map(\.worker) } else { nil } }
        #expect(again == [[b]], "\(next)")
    }
}
