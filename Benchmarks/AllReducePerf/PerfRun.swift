import Collective

/// One measured configuration: a vector size in one mode over one transport. Runs are numbered in
/// the order every rank executes them (sizes outer, then modes, then transports), so a number
/// names the same run everywhere.
struct PerfRun: Sendable, Equatable {
    var index: Int
    var bytes: Int
    var mode: ReduceMode
    var security: RingSecurity = .plain

    /// Float32 elements in the vector.
    var count: Int { bytes / 4 }

    static func plan(_ options: PerfOptions) -> [PerfRun] {
        var runs: [PerfRun] = []
        for bytes in options.sizes {
            for mode in options.modes {
                for security in options.securities {
                    runs.append(PerfRun(index: runs.count, bytes: bytes, mode: mode, security: security))
                }
            }
        }
        return runs
    }
}
