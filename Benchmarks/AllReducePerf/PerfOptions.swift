import Collective

/// What one `allreduce-perf` invocation measures.
///
/// The driver parses it from the command line and passes the same options on to every rank
/// process (`rankArguments`), so every member of the ring runs the same sequence of collectives
/// without any negotiation beyond the rendezvous.
struct PerfOptions: Sendable, Equatable {
    /// Who this process is: the driver that the user started, or one member of the ring that
    /// the driver started (the hidden `--rank` role).
    enum Role: Sendable, Equatable {
        case driver
        case rank(Int, control: String, parentPID: Int32)
    }

    var worldSize = 2
    /// Vector sizes in bytes of float32, each a positive multiple of 4.
    var sizes: [Int] = ByteSize.doubling(from: 4 << 10, to: 256 << 20)
    var modes: [ReduceMode] = ReduceMode.allCases
    /// Measured iterations per size and mode.
    var iterations = 20
    /// Unmeasured iterations before them (connection set-up, first-touch page faults).
    var warmup = 5
    /// Frame payload sizes in bytes, and windows: each (frame, window) pair is measured, the first
    /// of each being the reference the other rows are compared with.
    var frames = [AllReduceSettings().frameBytes]
    var windows = [AllReduceSettings().window]
    /// The longest any process waits for one message (a frame, a barrier, a peer's hello).
    var timeoutSeconds = 60.0
    /// Print only the `RESULT {...}` lines that `allreduce_peers.py --external` reads.
    var peerFormat = false
    /// Skip the loopback reference measurement (it takes about a second).
    var skipLoopback = false
    /// The ring's transports to measure, in order: plaintext, CurveZMQ, or both (each rank then
    /// has a ring of each, and the runs of a size alternate between them).
    var securities: [RingSecurity] = [.plain]
    var role = Role.driver

    static let usage = """
        usage: allreduce-perf [-n N] [--sizes 4KiB..256MiB | --sizes-mib 16 100] [--mode exact|fp32|fp16|all]
                              [--iters I] [--warmup W] [--frame-kib K] [--window F] [--timeout S]
                              [--no-loopback] [--peer-format] [--security plain,curve,aead]

          -n N           ring members, each a process on this machine (default 2)
          --sizes LIST   a doubling range A..B or a comma-separated list; units B, KiB, MiB, GiB
                         (default 4KiB..256MiB)
          --sizes-mib    sizes in MiB, space-separated (the form allreduce_peers.py substitutes)
          --mode M       exact, fp32, fp16 or all (default all); comma-separated lists work too
          --iters I      measured iterations per size and mode (default 20)
          --warmup W     unmeasured iterations before them (default 5)
          --frame-kib K  all-reduce frame payload in KiB (default 1024); a comma-separated list
                         measures each, the first being the reference of "vs plain"
          --window F     frames sent ahead per ring step (default 4); a list as for --frame-kib
          --timeout S    longest wait for any one message, in seconds (default 60)
          --no-loopback  skip the loopback TCP reference
          --peer-format  print only RESULT lines for allreduce_peers.py --external (one mode)
          --security S   the ring's transports, comma-separated: plain (default), curve (CurveZMQ),
                         aead (plain sockets, frames sealed with AES-256-GCM); with plain among
                         them each other row shows its busbw ratio to plain
        """

    /// Parses the arguments after the program name.
    static func parse(_ arguments: [String]) throws(PerfError) -> PerfOptions {
        var options = PerfOptions()
        var rank: Int?
        var control: String?
        var parentPID: Int32?
        var index = 0
        func value(_ name: String) throws(PerfError) -> String {
            index += 1
            guard index < arguments.count else { throw PerfError(code: "perf.usage", "\(name) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "-n": options.worldSize = try integer(try value(argument), argument, in: 1...64)
            case "--sizes": options.sizes = try ByteSize.parseList(try value(argument))
            case "--sizes-mib":
                var sizes: [Int] = []
                while index + 1 < arguments.count, !arguments[index + 1].hasPrefix("-") {
                    index += 1
                    sizes.append(contentsOf: try ByteSize.parseMebibytes(arguments[index]))
                }
                guard !sizes.isEmpty else { throw PerfError(code: "perf.usage", "--sizes-mib needs at least one size") }
                options.sizes = sizes
            case "--mode": options.modes = try parseModes(try value(argument))
            case "--iters": options.iterations = try integer(try value(argument), argument, in: 1...100_000)
            case "--warmup": options.warmup = try integer(try value(argument), argument, in: 0...100_000)
            case "--frame-kib":
                options.frames = try integers(try value(argument), argument, in: 1...(AllReduceSettings.maximumFrameBytes >> 10)).map { $0 << 10 }
            case "--window": options.windows = try integers(try value(argument), argument, in: 1...64)
            case "--timeout":
                let text = try value(argument)
                guard let seconds = Double(text), seconds > 0, seconds <= 3600 else {
                    throw PerfError(code: "perf.usage", "--timeout is \(text), expected seconds in (0, 3600]")
                }
                options.timeoutSeconds = seconds
            case "--no-loopback": options.skipLoopback = true
            case "--security":
                let text = try value(argument)
                var securities: [RingSecurity] = []
                for name in text.split(separator: ",") {
                    guard let security = RingSecurity(rawValue: String(name)) else {
                        throw PerfError(code: "perf.usage", "--security \(name) is not one of plain, curve, aead")
                    }
                    if !securities.contains(security) { securities.append(security) }
                }
                guard !securities.isEmpty else { throw PerfError(code: "perf.usage", "--security is empty") }
                options.securities = securities
            case "--peer-format": options.peerFormat = true
            case "--rank": rank = try integer(try value(argument), argument, in: 0...63)
            case "--control": control = try value(argument)
            case "--parent-pid": parentPID = Int32(try integer(try value(argument), argument, in: 1...Int(Int32.max)))
            case "-h", "--help": throw PerfError(code: "perf.help", usage)
            default: throw PerfError(code: "perf.usage", "unknown argument \(argument)\n\(usage)")
            }
            index += 1
        }
        if let rank {
            guard let control, let parentPID, rank < options.worldSize else {
                throw PerfError(code: "perf.usage", "--rank \(rank) needs --control, --parent-pid and a rank below -n \(options.worldSize)")
            }
            options.role = .rank(rank, control: control, parentPID: parentPID)
        }
        if options.peerFormat && options.modes.count != 1 {
            throw PerfError(code: "perf.usage", "--peer-format reports one library per run: give one --mode, not \(options.modes.map(\.rawValue).joined(separator: ","))")
        }
        return options
    }

    /// The arguments that start rank `rank` of the same benchmark.
    func rankArguments(rank: Int, control: String, parentPID: Int32) -> [String] {
        [
            "-n", "\(worldSize)", "--sizes", sizes.map { "\($0)B" }.joined(separator: ","),
            "--mode", modes.map(\.rawValue).joined(separator: ","),
            "--iters", "\(iterations)", "--warmup", "\(warmup)",
            "--frame-kib", frames.map { "\($0 >> 10)" }.joined(separator: ","), "--window", windows.map(String.init).joined(separator: ","),
            "--timeout", "\(timeoutSeconds)",
            "--security", securities.map(\.rawValue).joined(separator: ","),
            "--rank", "\(rank)", "--control", control, "--parent-pid", "\(parentPID)",
        ]
    }

    /// The all-reduce settings of one run.
    func settings(_ run: PerfRun) -> AllReduceSettings {
        AllReduceSettings(mode: run.mode, frameBytes: run.frameBytes, window: run.window, timeout: .milliseconds(Int(timeoutSeconds * 1000)))
    }

    /// Whether more than one frame size or window is measured (the table then names each row's).
    var variesShape: Bool { frames.count > 1 || windows.count > 1 }

    private static func integer(_ text: String, _ name: String, in range: ClosedRange<Int>) throws(PerfError) -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw PerfError(code: "perf.usage", "\(name) is \(text), expected an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A comma-separated list of integers in `range`, without repeats, in the order given.
    private static func integers(_ text: String, _ name: String, in range: ClosedRange<Int>) throws(PerfError) -> [Int] {
        var values: [Int] = []
        for word in text.split(separator: ",", omittingEmptySubsequences: false) {
            let value = try integer(String(word), name, in: range)
            if !values.contains(value) { values.append(value) }
        }
        return values
    }

    private static func parseModes(_ text: String) throws(PerfError) -> [ReduceMode] {
        if text == "all" { return ReduceMode.allCases }
        var modes: [ReduceMode] = []
        for name in text.split(separator: ",") {
            guard let mode = ReduceMode(rawValue: String(name)) else {
                throw PerfError(code: "perf.usage", "--mode \(name) is not one of exact, fp32, fp16, all")
            }
            if !modes.contains(mode) { modes.append(mode) }
        }
        guard !modes.isEmpty else { throw PerfError(code: "perf.usage", "--mode is empty") }
        return modes
    }
}

/// The transport of the benchmark's ring.
enum RingSecurity: String, Sendable, Equatable {
    /// Plain ZeroMQ over TCP, as a run without keys.
    case plain
    /// CurveZMQ, as a run with keys: every frame encrypted and authenticated by libzmq.
    case curve
    /// Plain ZeroMQ sockets, every frame sealed with AES-256-GCM by the ring itself
    /// (`SealedRingLink`) under a key shared by the ranks.
    case aead
}
