import Collective

/// One measured configuration: a vector size in one mode over one transport, with one frame size
/// and window. Runs are numbered in the order every rank executes them (sizes outer, then modes,
/// transports, frame sizes and windows), so a number names the same run everywhere.
struct PerfRun: Sendable, Equatable {
    var index: Int
    var bytes: Int
    var mode: ReduceMode
    var security: RingSecurity = .plain
    var frameBytes = AllReduceSettings().frameBytes
    var window = AllReduceSettings().window

    /// Float32 elements in the vector.
    var count: Int { bytes / 4 }

    /// The reducer that runs it: one per mode, transport, frame size and window.
    var reducerKey: String { "\(mode.rawValue)/\(security.rawValue)/\(frameBytes)/\(window)" }

    /// Its frame size and window, as the table shows them ("1 MiB w4").
    var shape: String { "\(ByteSize.format(frameBytes)) w\(window)" }

    static func plan(_ options: PerfOptions) -> [PerfRun] {
        var runs: [PerfRun] = []
        for bytes in options.sizes {
            for mode in options.modes {
                for security in options.securities {
                    for frameBytes in options.frames {
                        for window in options.windows {
                            runs.append(PerfRun(index: runs.count, bytes: bytes, mode: mode, security: security, frameBytes: frameBytes, window: window))
                        }
                    }
                }
            }
        }
        return runs
    }
}
