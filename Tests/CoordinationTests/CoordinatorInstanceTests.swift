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
        let join = Wire.Join(schemaHash: 1, ringEndpoint: "tcp://h\(n):1", host: "h\(n)", pid: UInt32(n))
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

    @Test func joinersBelowTheQuorumGetTheStateFromTheRing() throws {
        // Two members train; step 1 commits without a state (nothing due); one leaves, the ring
        // is below workers.min = 2; a joiner arrives. The coordinator must fetch the state.
        var c = coordinator(workersMin: 2, startQuorum: 2)
        let a = try #require(join(&c, 1, at: t0)), b = try #require(join(&c, 2, at: t0))
        _ = c.onTick(now: t0 + .milliseconds(100))
        let attempt = try #require(c.attempt)
        for (id, peer) in [(a, UInt8(1)), (b, UInt8(2))] {
            let result = Wire.StepResult(step: 1, losses: [], weightsHash: [7], dataNanos: 0, computeNanos: 0, reduceNanos: 0,
                                         reduceBytes: 0, state: nil)
            _ = c.onMessage(.stepResult(result), envelope: envelope(.stepResult, id.rawValue, generation: attempt.generation), from: [peer],
                            now: t0 + .milliseconds(200))
        }
        #expect(c.committed == 1 && c.heldStateStep == 0)
        _ = c.onMessage(.leave(Wire.Leave(reason: .drain, text: "spot")), envelope: envelope(.leave, b.rawValue), from: [2],
                        now: t0 + .milliseconds(300))
        join(&c, 3, at: t0 + .milliseconds(400))
        let out = c.onTick(now: t0 + .milliseconds(500))
        let asked = sends(out).filter { if case .stateRequest(let r) = $0.0 { r.step == 1 } else { false } }
        #expect(asked.map(\.1) == [[1]], "the ring member is asked for the state after step 1: \(out)")
        let state = Wire.State(step: 1, tensors: [])
        let verify = c.onMessage(.state(state), envelope: envelope(.state, a.rawValue), from: [1], now: t0 + .milliseconds(510))
        guard case .verifyState(_, let from, 1, [7]) = verify.first else { Issue.record("\(verify)"); return }
        #expect(from == a)
        _ = c.onStateStored(step: 1, now: t0 + .milliseconds(520))
        let admitted = c.onTick(now: t0 + .milliseconds(600))
        #expect(admitted.contains { if case .sendState(_, 1) = $0 { true } else { false } }, "the joiner gets the state and the ring")
        #expect(c.attempt?.step == Step(ordinal: 2) && c.attempt?.members.count == 2)
    }
}
