import Core
import Testing
import Wire
@testable import Coordination

@Suite struct WorkerInstanceTests {
    static let settings = WorkerInstance.Settings(sampleCount: 10, microBatchesPerStep: 4, microBatch: 2, globalBatch: 8,
                                                  lossScaled: false, lossScaleTensor: "optim/loss_scale")
    let me = WorkerID(2)

    func envelope(_ kind: Wire.Kind, _ generation: UInt64) -> Wire.Envelope {
        Wire.Envelope(kind: kind, generation: Generation(generation), sender: WorkerID(0), incarnation: Incarnation(0))
    }

    /// A worker welcomed as w2 that holds the state after `committed` steps.
    func worker(committed: Int = 3) -> WorkerInstance {
        var w = WorkerInstance(settings: Self.settings)
        w.onWelcome(Wire.Welcome(worker: me, heartbeatIntervalMillis: 1000))
        _ = w.onMessage(.state(Wire.State(step: UInt64(committed), tensors: [])), envelope: envelope(.state, 1))
        return w
    }

    func lease(step: UInt64 = 4, ring: [Wire.Member]? = nil, batches: [Wire.MicroBatch]? = nil, total: UInt32 = 4,
               globalBatch: UInt32 = 8) -> Wire.Lease {
        Wire.Lease(step: step,
                   ring: ring ?? [Wire.Member(worker: WorkerID(1), ringEndpoint: "tcp://a:1"), Wire.Member(worker: me, ringEndpoint: "tcp://b:1")],
                   microBatches: batches ?? [Wire.MicroBatch(id: MicroBatchID(2), samples: [0, 9]), Wire.MicroBatch(id: MicroBatchID(3), samples: [4, 5])],
                   totalMicroBatches: total, globalBatch: globalBatch, wantState: true)
    }

    func refusal(_ directives: [WorkerInstance.Directive]) -> Wire.StepFailed? {
        guard directives.count == 1, case .report(let failure) = directives[0] else { return nil }
        return failure
    }

    @Test func aValidLeaseRunsAtItsRank() {
        var w = worker()
        let out = w.onMessage(.lease(lease()), envelope: envelope(.lease, 5))
        guard case .run(let order) = out.first else { Issue.record("\(out)"); return }
        #expect(order.rank == 1 && order.step == Step(ordinal: 4) && order.generation == Generation(5))
        #expect(!order.attachState, "only rank 0 attaches its state")
        #expect(w.generation == Generation(5))
    }

    @Test(arguments: [
        ("sample index", Wire.MicroBatch(id: MicroBatchID(0), samples: [1, 10]), "sample index 10"),
        ("micro-batch id", Wire.MicroBatch(id: MicroBatchID(4), samples: [1, 2]), "micro-batch id 4 is out of range"),
        ("micro-batch size", Wire.MicroBatch(id: MicroBatchID(0), samples: [1, 2, 3]), "holds 3 samples"),
    ])
    func aLeaseWithABadMicroBatchIsRefused(_ what: String, _ batch: Wire.MicroBatch, _ says: String) {
        var w = worker()
        let failure = refusal(w.onMessage(.lease(lease(batches: [batch])), envelope: envelope(.lease, 5)))
        #expect(failure?.code == "lease.invalid", "\(what)")
        #expect(failure?.text.contains(says) == true, "\(failure?.text ?? "no refusal")")
        #expect(failure?.suspect == WorkerID(0), "a bad lease is the worker's own failure, nobody else's")
    }

    @Test func repeatedMicroBatchIdsAreRefused() {
        var w = worker()
        let twice = [Wire.MicroBatch(id: MicroBatchID(1), samples: [1, 2]), Wire.MicroBatch(id: MicroBatchID(1), samples: [3, 4])]
        #expect(refusal(w.onMessage(.lease(lease(batches: twice)), envelope: envelope(.lease, 5)))?.text.contains("repeated") == true)
    }

    @Test func aLeaseWithAnotherPlanShapeIsRefused() {
        var w = worker()
        #expect(refusal(w.onMessage(.lease(lease(total: 5)), envelope: envelope(.lease, 5)))?.text.contains("5 micro-batches per step") == true)
        var v = worker()
        #expect(refusal(v.onMessage(.lease(lease(globalBatch: 6)), envelope: envelope(.lease, 5)))?.text.contains("global batch 6") == true)
        var u = worker()
        #expect(refusal(u.onMessage(.lease(lease(batches: [])), envelope: envelope(.lease, 5)))?.text.contains("no micro-batches") == true)
    }

    @Test func aRingWithoutMeOrWithMeTwiceIsRefused() {
        let other = [Wire.Member(worker: WorkerID(1), ringEndpoint: "tcp://a:1"), Wire.Member(worker: WorkerID(3), ringEndpoint: "tcp://c:1")]
        var w = worker()
        #expect(refusal(w.onMessage(.lease(lease(ring: other)), envelope: envelope(.lease, 5)))?.text.contains("exactly once") == true)
        let twice = [Wire.Member(worker: me, ringEndpoint: "tcp://a:1"), Wire.Member(worker: me, ringEndpoint: "tcp://b:1")]
        var v = worker()
        #expect(refusal(v.onMessage(.lease(lease(ring: twice)), envelope: envelope(.lease, 5)))?.text.contains("exactly once") == true)
        let dup = [Wire.Member(worker: WorkerID(1), ringEndpoint: "tcp://a:1"), Wire.Member(worker: me, ringEndpoint: "tcp://b:1"),
                   Wire.Member(worker: WorkerID(1), ringEndpoint: "tcp://c:1")]
        var u = worker()
        #expect(refusal(u.onMessage(.lease(lease(ring: dup)), envelope: envelope(.lease, 5)))?.text.contains("names a member twice") == true)
    }

    @Test func aRingWithABadEndpointIsRefused() {
        let ring = [Wire.Member(worker: WorkerID(1), ringEndpoint: "tcp://[::]:1"), Wire.Member(worker: me, ringEndpoint: "tcp://b:1")]
        var w = worker()
        let failure = refusal(w.onMessage(.lease(lease(ring: ring)), envelope: envelope(.lease, 5)))
        #expect(failure?.text.contains("ring endpoint 'tcp://[::]:1' of w1") == true)
    }

    @Test func aLeaseOfAnOlderGenerationIsDropped() {
        var w = worker()
        _ = w.onMessage(.lease(lease()), envelope: envelope(.lease, 5))
        guard case .drop = w.onMessage(.lease(lease()), envelope: envelope(.lease, 4)).first else { Issue.record("ran an old lease"); return }
        #expect(w.staleMessages == 1)
    }

    @Test func aLeaseForACommittedStepIsDropped() {
        var w = worker(committed: 3)
        guard case .drop = w.onMessage(.lease(lease(step: 3)), envelope: envelope(.lease, 5)).first else { Issue.record("reran step 3"); return }
        // Step 0 names no step; a lease for it is as stale as one for a committed step.
        guard case .drop = w.onMessage(.lease(lease(step: 0)), envelope: envelope(.lease, 5)).first else { Issue.record("ran step 0"); return }
        #expect(w.staleMessages == 2)
    }

    @Test func aLeaseFromTheFutureIsReportedOutOfSync() {
        var w = worker(committed: 3)
        #expect(refusal(w.onMessage(.lease(lease(step: 6)), envelope: envelope(.lease, 5)))?.code == "worker.out-of-sync")
    }

    @Test func aLeaseBeforeAnyStateIsReported() {
        var w = WorkerInstance(settings: Self.settings)
        w.onWelcome(Wire.Welcome(worker: me, heartbeatIntervalMillis: 1000))
        #expect(refusal(w.onMessage(.lease(lease()), envelope: envelope(.lease, 5)))?.code == "worker.no-state")
    }

    @Test func aRepeatedLeaseDoesNotStartTheStepTwice() {
        var w = worker()
        guard case .run = w.onMessage(.lease(lease()), envelope: envelope(.lease, 5)).first else { Issue.record("no run"); return }
        guard case .drop = w.onMessage(.lease(lease()), envelope: envelope(.lease, 5)).first else { Issue.record("ran twice"); return }
        guard case .run = w.onMessage(.lease(lease()), envelope: envelope(.lease, 6)).first else {
            Issue.record("a re-deal in a new generation must run"); return
        }
    }

    @Test func aCommitAdvancesOnlyTheStepThisReplicaRan() {
        var w = worker(committed: 3)
        guard case .drop = w.onMessage(.commit(Wire.Commit(step: 4)), envelope: envelope(.commit, 5)).first else {
            Issue.record("committed a step it never ran"); return
        }
        #expect(w.committed == 3)
        _ = w.onMessage(.lease(lease()), envelope: envelope(.lease, 5))
        guard case .drop = w.onMessage(.commit(Wire.Commit(step: 4)), envelope: envelope(.commit, 4)).first else {
            Issue.record("took an older generation's commit"); return
        }
        guard case .drop = w.onMessage(.commit(Wire.Commit(step: 4)), envelope: envelope(.commit, 6)).first else {
            Issue.record("took a newer generation's commit: another attempt, without this replica"); return
        }
        #expect(w.onMessage(.commit(Wire.Commit(step: 4)), envelope: envelope(.commit, 5)) == [.commit(step: Step(ordinal: 4))])
        #expect(w.committed == 4)
        #expect(w.onMessage(.commit(Wire.Commit(step: 4)), envelope: envelope(.commit, 5)).isEmpty, "a repeat is ignored")
    }

    @Test func aRepeatedStateDoesNotDiscardTheStepRunSinceButANewerOneDoes() {
        var w = worker(committed: 3)
        _ = w.onMessage(.lease(lease()), envelope: envelope(.lease, 5))
        guard case .drop = w.onMessage(.state(Wire.State(step: 3, tensors: [])), envelope: envelope(.state, 5)).first else {
            Issue.record("reinstalled the state it holds"); return
        }
        #expect(w.onMessage(.commit(Wire.Commit(step: 4)), envelope: envelope(.commit, 5)) == [.commit(step: Step(ordinal: 4))])
        _ = w.onMessage(.lease(lease(step: 5)), envelope: envelope(.lease, 6))
        guard case .install = w.onMessage(.state(Wire.State(step: 7, tensors: [])), envelope: envelope(.state, 6)).first else {
            Issue.record("a newer state was not installed"); return
        }
        #expect(w.onMessage(.commit(Wire.Commit(step: 5)), envelope: envelope(.commit, 6)).isEmpty,
                "the install discarded that update, and the replica is past it anyway")
        #expect(w.committed == 7)
    }

    @Test func aStateRequestForTheStepRunProvesItsCommit() {
        var w = worker(committed: 3)
        _ = w.onMessage(.lease(lease()), envelope: envelope(.lease, 5))
        #expect(w.onMessage(.stateRequest(Wire.StateRequest(step: 4)), envelope: envelope(.stateRequest, 5))
            == [.commit(step: Step(ordinal: 4)), .sendState(step: 4)])
        #expect(w.committed == 4)
        guard case .drop = w.onMessage(.stateRequest(Wire.StateRequest(step: 6)), envelope: envelope(.stateRequest, 5)).first else {
            Issue.record("answered for a step it does not hold"); return
        }
    }

    @Test func anOlderStateIsDroppedAndDeclaredDownRejoins() {
        var w = worker(committed: 3)
        guard case .drop = w.onMessage(.state(Wire.State(step: 2, tensors: [])), envelope: envelope(.state, 5)).first else {
            Issue.record("installed an older state"); return
        }
        guard case .rejoin = w.onMessage(.reject(Wire.Reject(reason: .declaredDown, text: "x")), envelope: envelope(.reject, 5)).first else {
            Issue.record("no rejoin"); return
        }
        guard case .rejoin = w.onMessage(.reject(Wire.Reject(reason: .full, text: "x")), envelope: envelope(.reject, 5)).first else {
            Issue.record("a full run is not final"); return
        }
        guard case .exit(.rejected) = w.onMessage(.reject(Wire.Reject(reason: .modelSchema, text: "x")), envelope: envelope(.reject, 5)).first else {
            Issue.record("no exit"); return
        }
    }

    /// A supervisor restarts a worker that exits as preempted and not one that exits as done: the
    /// coordinator's goodbye after a stop (it drained on SIGTERM, or failed) must not read as the
    /// run's end.
    @Test func aLeaveAtTheRunsEndFinishesAndAShutdownBeforeItDoesNot() {
        var w = worker(committed: 3)
        let done = w.onMessage(.leave(Wire.Leave(reason: .runFinished, text: "run finished")), envelope: envelope(.leave, 5))
        guard case .exit(.finished("run finished")) = done.first, done.count == 1 else {
            Issue.record("\(done)"); return
        }
        let stopped = w.onMessage(.leave(Wire.Leave(reason: .shutdown, text: "stopped after 3 steps: SIGTERM received")),
                                  envelope: envelope(.leave, 5))
        guard case .exit(.coordinatorStopped("stopped after 3 steps: SIGTERM received")) = stopped.first, stopped.count == 1 else {
            Issue.record("\(stopped)"); return
        }
        // A failed run (its loss not finite): a restart would fail again, so it is not "start me again".
        let failed = w.onMessage(.leave(Wire.Leave(reason: .error, text: "failed at step 4: the loss is not finite")),
                                 envelope: envelope(.leave, 5))
        guard case .exit(.runFailed("failed at step 4: the loss is not finite")) = failed.first, failed.count == 1 else {
            Issue.record("\(failed)"); return
        }
    }
}
