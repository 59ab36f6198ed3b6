import Coordination
import Core

/// The simulator's record of what the run committed, and the safety invariants a commit must
/// keep. Every check returns a violation to report, or nil.
struct Ledger {
    /// The weights after each committed step; index 0 is the initial state.
    private(set) var hashes: [UInt64]
    private var plan: StepPlan
    /// Samples applied so far in each data epoch, by the committed ledger.
    private var appliedInEpoch: [Int: Set<Int>] = [:]
    private(set) var rollbacks = 0

    init(initial: UInt64, plan: StepPlan) {
        hashes = [initial]
        self.plan = plan
    }

    var committed: Int { hashes.count - 1 }

    func hash(after step: Int) -> UInt64? { step >= 0 && step < hashes.count ? hashes[step] : nil }

    /// The weights a replica holds after applying `step` to `previous`: a hash over the previous
    /// weights, the step and the sorted sample ids of the whole step. Replicas agree exactly when
    /// they applied the same step to the same weights.
    static func chain(_ previous: UInt64, step: Int, samples: [Int]) -> UInt64 {
        var h = previous ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15)
        for s in samples { h = mix(h ^ (UInt64(s) &+ 0xA24B_AED4_963E_E407)) }
        return mix(h)
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The samples of `step` (1-based) by the plan, sorted.
    mutating func planned(step: Int) -> [Int] {
        (0..<plan.microBatchesPerStep).flatMap { plan.microBatch($0, ofStep: Step(ordinal: step)) }.sorted()
    }

    /// Checks and records a commit.
    /// - Parameters:
    ///   - applied: the sorted samples the ring of that attempt summed (nil: no ring completed).
    ///   - onlyCorrupt: every member that agreed on the hash computes corrupt weights, so the hash
    ///     may legitimately differ from the honest chain (nobody honest was there to out-vote it).
    mutating func commit(_ record: CoordinatorInstance.CommitRecord, applied: [Int]?, onlyCorrupt: Bool) -> String? {
        let step = record.step.ordinal
        guard step == committed + 1 else { return "step \(step) committed after step \(committed): not contiguous" }
        guard record.results.count * 2 > record.members.count || record.results.count == record.members.count else {
            return "step \(step) committed with \(record.results.count) agreeing of \(record.members.count) members: no majority"
        }
        guard record.results.keys.allSatisfy(record.members.contains) else {
            return "step \(step) commit record names results of non-members"
        }
        guard let recorded = Self.value(of: record.hash), record.results.values.allSatisfy({ $0.weightsHash == record.hash }) else {
            return "step \(step) committed hash is not the one its agreeing results hold"
        }
        let planned = planned(step: step)
        guard let applied else { return "step \(step) committed but no ring of \(record.generation) completed it" }
        guard applied == planned else {
            return "step \(step) applied samples \(applied) but the plan's are \(planned)"
        }
        let expected = Self.chain(hashes[step - 1], step: step, samples: planned)
        if recorded != expected && !onlyCorrupt {
            return "step \(step) committed weights \(String(recorded, radix: 16)), the honest chain gives \(String(expected, radix: 16))"
        }
        for position in (step - 1) * plan.globalBatch..<step * plan.globalBatch {
            let epoch = position / plan.sampleCount
            let sample = plan.sample(atStreamPosition: position)
            guard appliedInEpoch[epoch, default: []].insert(sample).inserted else {
                return "sample \(sample) applied twice in data epoch \(epoch) (again at step \(step))"
            }
        }
        hashes.append(recorded)
        return nil
    }

    /// The ledger goes back to `step`; the steps after it will be redone.
    mutating func rollback(to step: Int) -> String? {
        guard step <= committed else { return "rollback to step \(step), beyond the committed \(committed)" }
        rollbacks += 1
        hashes.removeLast(committed - step)
        appliedInEpoch = [:]
        for position in 0..<step * plan.globalBatch {
            appliedInEpoch[position / plan.sampleCount, default: []].insert(plan.sample(atStreamPosition: position))
        }
        return nil
    }

    static func bytes(of value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    static func value(of bytes: [UInt8]) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        return bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }
}
