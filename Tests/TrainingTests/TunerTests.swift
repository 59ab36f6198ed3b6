import Foundation
import Testing
@testable import Training
import Coordination
import Core

@Suite struct TunerTests {
    typealias Candidate = Tuner.Candidate

    func trial(_ decode: Int, _ compute: Int, _ prefetch: Int, _ rate: Double, wait: Double = 0) -> Tuner.Trial {
        Tuner.Trial(candidate: Candidate(decodeThreads: decode, computeThreads: compute, prefetch: prefetch),
                    steps: 5, samplesPerSecond: rate, dataWaitShare: wait)
    }

    // MARK: Candidates

    @Test func aManifestOnTwoCoresTriesEveryKnob() {
        let fixed = Candidate(decodeThreads: 2, computeThreads: 1, prefetch: 4)
        let space = Tuner.Space.standard(cores: 2, readsManifest: true, fixed: fixed)
        #expect(space.decodeThreads == [1, 2, 4])
        #expect(space.computeThreads == [1, 2])
        #expect(space.prefetch == [1, 2, 4])
        let candidates = space.candidates
        #expect(candidates.count == 18)
        #expect(Set(candidates).count == 18)
        #expect(candidates.first == Candidate(decodeThreads: 1, computeThreads: 1, prefetch: 1))
        #expect(candidates.last == Candidate(decodeThreads: 4, computeThreads: 2, prefetch: 4))
    }

    @Test func aTileDirectoryVariesOnlyComputeThreads() {
        let fixed = Candidate(decodeThreads: 3, computeThreads: 1, prefetch: 5)
        let candidates = Tuner.Space.standard(cores: 6, readsManifest: false, fixed: fixed).candidates
        #expect(candidates.map(\.computeThreads) == [1, 2, 4, 6])
        #expect(candidates.allSatisfy { $0.decodeThreads == 3 && $0.prefetch == 5 })
    }

    @Test func oddCoreCountsEndAtTheCoreCount() {
        #expect(Tuner.Space.powersOfTwo(upTo: 1) == [1])
        #expect(Tuner.Space.powersOfTwo(upTo: 3) == [1, 2, 3])
        #expect(Tuner.Space.powersOfTwo(upTo: 8) == [1, 2, 4, 8])
        let one = Tuner.Space.standard(cores: 1, readsManifest: true, fixed: Candidate(decodeThreads: 1, computeThreads: 1, prefetch: 1))
        #expect(one.decodeThreads == [1, 2] && one.computeThreads == [1])
    }

    @Test func repeatedValuesGiveOneCandidateEach() {
        let space = Tuner.Space(decodeThreads: [2, 1, 2], computeThreads: [1, 1], prefetch: [4])
        #expect(space.candidates == [Candidate(decodeThreads: 1, computeThreads: 1, prefetch: 4),
                                     Candidate(decodeThreads: 2, computeThreads: 1, prefetch: 4)])
    }

    @Test func anEmptyOrOutOfRangeSpaceIsRefusedByName() {
        #expect(throws: TrainingError.self) { try Tuner.Space(decodeThreads: [], computeThreads: [1], prefetch: [1]).validate() }
        do {
            try Tuner.Space(decodeThreads: [1], computeThreads: [1], prefetch: [0]).validate()
            Issue.record("prefetch 0 was accepted")
        } catch {
            #expect(error.code == "tune.bad-value")
            #expect(error.message.contains("prefetch (dataset.prefetch) 0"))
        }
    }

    // MARK: Summarising

    @Test func theMedianResistsOneSlowStep() {
        let candidate = Candidate(decodeThreads: 1, computeThreads: 1, prefetch: 1)
        let steps = [Tuner.StepTiming(samples: 8, seconds: 1, waitSeconds: 0.1),
                     Tuner.StepTiming(samples: 8, seconds: 8, waitSeconds: 6),  // a neighbour's build ran
                     Tuner.StepTiming(samples: 8, seconds: 2, waitSeconds: 0.2)]
        let trial = Tuner.summarise(candidate, steps: steps)
        #expect(trial?.steps == 3)
        #expect(trial?.samplesPerSecond == 4)
        #expect(trial?.dataWaitShare == 0.1)
    }

    @Test func stepsWithoutTimeOrSamplesAreIgnored() {
        let candidate = Candidate(decodeThreads: 1, computeThreads: 1, prefetch: 1)
        #expect(Tuner.summarise(candidate, steps: []) == nil)
        #expect(Tuner.summarise(candidate, steps: [Tuner.StepTiming(samples: 8, seconds: 0, waitSeconds: 0)]) == nil)
        let trial = Tuner.summarise(candidate, steps: [Tuner.StepTiming(samples: 0, seconds: 1, waitSeconds: 0),
                                                       Tuner.StepTiming(samples: 6, seconds: 2, waitSeconds: 1)])
        #expect(trial?.steps == 1 && trial?.samplesPerSecond == 3 && trial?.dataWaitShare == 0.5)
    }

    @Test func medianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
        #expect(Tuner.median([4, 1, 3, 2]) == 2.5)
        #expect(Tuner.median([7]) == 7)
        #expect(Tuner.median([]) == 0)
    }

    // MARK: Choosing

    @Test func theClearlyFastestWins() {
        let trials = [trial(1, 1, 1, 10), trial(4, 2, 4, 20), trial(2, 1, 2, 12)]
        #expect(Tuner.best(of: trials)?.candidate == Candidate(decodeThreads: 4, computeThreads: 2, prefetch: 4))
    }

    @Test func tiesGoToFewerThreadsThenFewerComputeThreadsThenLessPrefetch() {
        // 19.6 is within 3 % of 20: a tie, and it uses fewer threads.
        #expect(Tuner.best(of: [trial(4, 2, 4, 20), trial(1, 2, 4, 19.6)])?.candidate.decodeThreads == 1)
        // Same total: fewer compute threads.
        #expect(Tuner.best(of: [trial(1, 2, 1, 20), trial(2, 1, 1, 20)])?.candidate.computeThreads == 1)
        // Same threads: the shallower prefetch.
        #expect(Tuner.best(of: [trial(1, 1, 4, 20), trial(1, 1, 2, 20)])?.candidate.prefetch == 2)
        // Outside the tolerance, speed wins over fewer threads.
        #expect(Tuner.best(of: [trial(4, 2, 4, 20), trial(1, 1, 1, 19)])?.candidate.totalThreads == 6)
        // With no tolerance only exact ties are ties.
        #expect(Tuner.best(of: [trial(4, 2, 4, 20), trial(1, 2, 4, 19.6)], tolerance: 0)?.candidate.decodeThreads == 4)
    }

    @Test func noTrialsNoChoice() {
        #expect(Tuner.best(of: []) == nil)
    }

    // MARK: Overrides and serialisation

    @Test func overridesNameOnlyTheKnobsThatMatter() {
        let candidate = Candidate(decodeThreads: 3, computeThreads: 2, prefetch: 4)
        #expect(candidate.overrides(readsManifest: true) == ["dataset.decode_threads=3", "model.threads=2", "dataset.prefetch=4"])
        #expect(candidate.overrides(readsManifest: false) == ["model.threads=2"])
    }

    func report() -> Tuner.Report {
        let trials = [trial(1, 1, 2, 10.5, wait: 0.25), trial(2, 2, 4, 14, wait: 0.05)]
        return Tuner.Report(createdAt: "2026-11-26T17:00:00Z", cores: 2, datasetKind: "manifest", dataset: "m.json",
                            model: "canopy-net", secondsPerCandidate: 3, samplesPerStep: 8, microBatch: 2, tolerance: 0.03,
                            trials: trials, best: trials[1], overrides: trials[1].candidate.overrides(readsManifest: true),
                            notes: ["shared machine"])
    }

    @Test func aReportRoundTripsThroughJSON() throws {
        let original = report()
        let data = try original.encoded()
        #expect(try Tuner.Report.decode(data, source: "tune.json") == original)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["format"] as? String == "grove-tune")
        #expect(object["samples_per_step"] as? Int == 8)
        let best = try #require(object["best"] as? [String: Any])
        #expect(best["samples_per_second"] as? Double == 14)
        let candidate = try #require(best["candidate"] as? [String: Any])
        #expect(candidate["decode_threads"] as? Int == 2)
        #expect(object["overrides"] as? [String] == ["dataset.decode_threads=2", "model.threads=2", "dataset.prefetch=4"])
    }

    @Test func anotherFormatIsRefusedWithItsName() throws {
        var other = report()
        other.format = "grove-manifest"
        do {
            _ = try Tuner.Report.decode(try other.encoded(), source: "old.json")
            Issue.record("a manifest was read as a tuning report")
        } catch let error as TrainingError {
            #expect(error.code == "tune.bad-report")
            #expect(error.message.contains("old.json") && error.message.contains("grove-manifest"))
        }
    }

    // MARK: Leases

    @Test func aLeaseIsTheFirstWorkersShareOfAStep() {
        var plan = StepPlan(sampleCount: 40, globalBatch: 16, microBatch: 2, seed: 3)
        let lease = Tuner.lease(plan: &plan, step: Step(ordinal: 2), members: 2)
        #expect(lease.count == 4)
        #expect(lease == (0..<4).map { plan.microBatch($0, ofStep: Step(ordinal: 2)) })
        #expect(Tuner.lease(plan: &plan, step: .first, members: 1).count == 8)
        #expect(Tuner.lease(plan: &plan, step: .first, members: 0).count == 8, "no workers is treated as one")
    }
}
