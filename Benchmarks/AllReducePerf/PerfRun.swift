import Collective

/// One measured configuration: a vector size in one mode. Runs are numbered in the order every
/// rank executes them (sizes outer, modes inner), so a number names the same run everywhere.
struct PerfRun: Sendable, Equatable {
    var index: Int
    var bytes: Int
    var mode: ReduceMode

    /// Float32 elements in the vector.
    var count: Int { bytes / 4 }

    static func plan(_ options: PerfOptions) -> [PerfRun] {
        var runs: [PerfRun] = []
        for bytes in options.sizes {
            for mode in options.modes {
                runs.append(PerfRun(index: runs.count, bytes: bytes, mode: mode))
            }
        }
        return runs
    }
}
