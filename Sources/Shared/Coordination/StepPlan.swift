import Core

/// Which samples each step trains on, and how a step is cut into micro-batches and dealt.
///
/// The run's sample stream is the concatenation of data epochs, each a seeded permutation of the
/// training samples. The step at index `i` takes stream positions `i * globalBatch ..< (i + 1) *
/// globalBatch`; a step may straddle two data epochs. Micro-batch `j` of a step is the `j`-th slice of
/// `microBatch` samples: its id and contents do not depend on how many workers exist. Pure: the
/// ledger is just the number of committed steps.
public struct StepPlan: Sendable {
    public let sampleCount: Int
    public let globalBatch: Int
    public let microBatch: Int
    public let seed: UInt64
    private var permutations: [Int: [Int]] = [:]

    public init(sampleCount: Int, globalBatch: Int, microBatch: Int, seed: UInt64) {
        precondition(sampleCount > 0 && globalBatch > 0 && microBatch > 0 && globalBatch % microBatch == 0,
                     "invalid step plan")
        self.sampleCount = sampleCount
        self.globalBatch = globalBatch
        self.microBatch = microBatch
        self.seed = seed
    }

    public var microBatchesPerStep: Int { globalBatch / microBatch }

    /// The data epoch and the position within it of the next sample after `steps` committed steps.
    public func ledger(afterCommitted steps: Int) -> (dataEpoch: Int, position: Int) {
        let consumed = steps * globalBatch
        return (consumed / sampleCount, consumed % sampleCount)
    }

    /// The samples of micro-batch `index` of `step`, as indices into the training sample list.
    public mutating func microBatch(_ index: Int, ofStep step: Step) -> [Int] {
        precondition((0..<microBatchesPerStep).contains(index), "micro-batch \(index) outside the step")
        let start = streamStart(of: step) + index * microBatch
        return (start..<start + microBatch).map { sample(atStreamPosition: $0) }
    }

    /// The stream position of the first sample of `step`.
    public func streamStart(of step: Step) -> Int { step.index * globalBatch }

    /// The sample at a position of the run's sample stream.
    public mutating func sample(atStreamPosition position: Int) -> Int {
        let epoch = position / sampleCount
        if permutations[epoch] == nil {
            if permutations.count > 2 { permutations.removeAll() }
            permutations[epoch] = SplitMix64.permutation(count: sampleCount, seed: seed, stream: UInt64(epoch))
        }
        return permutations[epoch]![position % sampleCount]
    }

    /// Deals the step's micro-batches to `members` ring members: contiguous ranges, the first
    /// `M mod N` members taking one more. Returns the micro-batch indices of each rank.
    public static func deal(microBatches: Int, members: Int) -> [Range<Int>] {
        precondition(members > 0, "no members to deal to")
        let base = microBatches / members, extra = microBatches % members
        var start = 0
        return (0..<members).map { rank in
            let count = base + (rank < extra ? 1 : 0)
            defer { start += count }
            return start..<start + count
        }
    }
}
