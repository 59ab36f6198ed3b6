import Core
import Testing
@testable import Collective

/// Members that die, stall or disagree: every other member must fail with a `CollectiveError`
/// within its receive deadline, never hang.
@Suite struct RingAllReduceFailureTests {
    let shortDeadline = Duration.milliseconds(300)

    @Test(arguments: [1, 5, 20])
    func aMemberThatDiesMidReduceFailsEveryOther(sendsBeforeDeath: Int) {
        let reference = ReduceReference.synthetic(count: 4000, microBatches: 8, seed: 6)
        let settings = AllReduceSettings(mode: .exact, frameBytes: 400, window: 2, timeout: shortDeadline)
        let start = ContinuousClock.now
        let results = reduceOnRing(reference, worldSize: 4, settings: settings) { link in
            link.rank == 2 ? DyingLink(base: link as! InProcessRingLink, sendsBeforeDeath: sendsBeforeDeath) : link
        }
        let elapsed = ContinuousClock.now - start
        for (rank, result) in results.enumerated() {
            switch result {
            case .failure(.timeout), .failure(.closed): break
            default: Issue.record("rank \(rank): \(result), expected a timeout or a closed link")
            }
        }
        // Each member gives up one deadline after its last frame; the failure reaches the whole
        // ring in a few deadlines, far from a hang.
        #expect(elapsed < shortDeadline * 10, "the ring took \(elapsed) to fail")
    }

    @Test func aMemberThatNeverJoinsTimesOutTheOthers() {
        let links = InProcessRing.make(worldSize: 3)
        defer { links.forEach { $0.close() } }
        let results = RingThreads.run(2) { rank -> CollectiveError? in
            let reducer = try! RingAllReduce(link: links[rank], settings: AllReduceSettings(mode: .fp32, timeout: .milliseconds(300)))
            do throws(CollectiveError) {
                _ = try reducer.sum(microBatches: [[1, 2, 3]], count: 3, totalMicroBatches: 3)
                return nil
            } catch {
                return error
            }
        }
        for (rank, error) in results.enumerated() {
            guard case .timeout(let named, let waited)? = error else {
                Issue.record("rank \(rank): \(String(describing: error)), expected a timeout")
                continue
            }
            #expect(named == rank)
            #expect(waited >= Duration.milliseconds(300))
        }
    }

    @Test func membersInDifferentModesFailMalformed() {
        let reference = ReduceReference.synthetic(count: 100, microBatches: 2, seed: 2)
        let results = reduceOnRing(reference, worldSize: 2, settings: AllReduceSettings(mode: .fp32, timeout: shortDeadline)) { link in
            link.rank == 0 ? link : ModeOverride(base: link)
        }
        #expect(results.contains { if case .failure(.malformed) = $0 { true } else { false } })
        #expect(results.allSatisfy { (try? $0.get()) == nil })
    }

    @Test func disagreeingMicroBatchTotalsFailMalformed() {
        let links = InProcessRing.make(worldSize: 2)
        defer { links.forEach { $0.close() } }
        let results = RingThreads.run(2) { rank -> CollectiveError? in
            let reducer = try! RingAllReduce(link: links[rank], settings: AllReduceSettings(timeout: .milliseconds(300)))
            do throws(CollectiveError) {
                _ = try reducer.sum(microBatches: [[1]], count: 1, totalMicroBatches: rank == 0 ? 2 : 4000)
                return nil
            } catch {
                return error
            }
        }
        #expect(results.contains { if case .malformed(let what)? = $0 { what.contains("mode parameter") } else { false } })
    }

    @Test(arguments: [(0, 5), (0, 12), (1, 20), (2, 60)])
    func aCorruptedHeaderFieldIsCaught(index: Int, offset: Int) {
        let reference = ReduceReference.synthetic(count: 300, microBatches: 3, seed: 8)
        let settings = AllReduceSettings(mode: .exact, frameBytes: 64, timeout: shortDeadline)
        let results = reduceOnRing(reference, worldSize: 3, settings: settings) { link in
            link.rank == 1 ? CorruptingLink(base: link, index: index, offset: offset) : link
        }
        if offset < RingFrameHeader.size {
            #expect(results.contains { if case .failure(.malformed) = $0 { true } else { false } })
        } else {
            // A flipped payload bit is not the header's business: the ring completes, agreeing.
            #expect(outcomes(results)?.allSatisfy { $0 == (try? results[0].get()) } == true)
        }
    }

    @Test func settingsOutOfRangeAreRefusedByName() {
        let link = InProcessRing.make(worldSize: 1)[0]
        #expect(throws: InvalidAllReduceSettings(setting: "frameBytes", value: "\(64 << 20)", expected: "8...\(8 << 20) bytes")) {
            try RingAllReduce(link: link, settings: AllReduceSettings(frameBytes: 64 << 20))
        }
        #expect(throws: InvalidAllReduceSettings.self) { try RingAllReduce(link: link, settings: AllReduceSettings(window: 0)) }
        #expect(throws: InvalidAllReduceSettings.self) { try RingAllReduce(link: link, settings: AllReduceSettings(timeout: .zero)) }
    }
}

/// Rewrites the mode byte of every frame it sends to `fp16`: a member configured differently.
final class ModeOverride: RingLink {
    let base: any RingLink
    var rank: Int { base.rank }
    var worldSize: Int { base.worldSize }
    init(base: any RingLink) { self.base = base }

    func send(_ frame: [UInt8]) throws(CollectiveError) {
        var frame = frame
        frame[5] = 2
        try base.send(frame)
    }

    func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] {
        try base.receive(until: deadline)
    }
}
