import Collective

/// The benchmark's input vectors and the check of their sum.
///
/// Element `i` of rank `r` is `((i + r) mod 7 - 3) / 4`: small multiples of 1/4, so the sum over
/// any number of ranks is exact in every mode (float16 included) and the expected result of
/// element `i` depends only on `i mod 7`. Rank-dependent values make a ring that skips or repeats
/// a member give a wrong sum.
enum PerfVector {
    static func value(_ index: Int, rank: Int) -> Float {
        Float((index + rank) % 7 - 3) * 0.25
    }

    static func input(count: Int, rank: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = value(i, rank: rank) }
            initialized = count
        }
    }

    /// Throws naming the first element that differs from the exact sum over `worldSize` ranks.
    static func check(_ outcome: ReduceOutcome, run: PerfRun, worldSize: Int, rank: Int) throws(PerfError) {
        guard case .sum(let result) = outcome else {
            throw PerfError(code: "perf.wrong-sum", "rank \(rank), \(ByteSize.format(run.bytes)) \(run.mode): the all-reduce reported an overflow")
        }
        guard result.count == run.count else {
            throw PerfError(code: "perf.wrong-sum", "rank \(rank), \(ByteSize.format(run.bytes)) \(run.mode): \(result.count) elements, expected \(run.count)")
        }
        let expected = (0..<7).map { residue in (0..<worldSize).reduce(Float(0)) { $0 + value(residue, rank: $1) } }
        let mismatch: Int? = result.withUnsafeBufferPointer { values in
            var residue = 0
            for i in 0..<values.count {
                if values[i] != expected[residue] { return i }
                residue = residue == 6 ? 0 : residue + 1
            }
            return nil
        }
        if let i = mismatch {
            throw PerfError(code: "perf.wrong-sum",
                            "rank \(rank), \(ByteSize.format(run.bytes)) \(run.mode): element \(i) is \(result[i]), expected \(expected[i % 7])")
        }
    }
}
