import Foundation
import Transport

/// The process the user starts: measures the loopback reference, starts one rank process per
/// ring member (this same executable with the hidden `--rank` role), runs the rendezvous and the
/// barriers through its control ROUTER, and prints the results.
///
/// Every wait is bounded: a rank that exits early fails the benchmark within a fraction of a
/// second, a silent one after `--timeout`; the remaining ranks are then killed.
final class PerfDriver {
    let options: PerfOptions

    init(options: PerfOptions) {
        self.options = options
    }

    func run() throws(PerfError) {
        let load = MachineLoad()
        var loopback: LoopbackProbe.Figure?
        var plainTCP: LoopbackProbe.Figure?
        if !options.peerFormat {
            printPreamble()
            if !options.skipLoopback {
                let tcp = try PlainTCPProbe.measure()
                print("# plain TCP limit: \(Cell.number(tcp.bytesPerSecond / 1e9, 3)) GB/s (one kernel socket stream over 127.0.0.1, "
                      + "\(ByteSize.format(tcp.messageBytes)) writes, median of \(tcp.trials) trials of \(tcp.messagesPerTrial); "
                      + "range \(Cell.number(tcp.slowest / 1e9, 3))-\(Cell.number(tcp.fastest / 1e9, 3)))")
                plainTCP = tcp
                let figure = try LoopbackProbe.measure()
                print("# loopback limit: \(Cell.number(figure.bytesPerSecond / 1e9, 3)) GB/s (ZeroMQ ring links, PUSH -> PULL over tcp://127.0.0.1, "
                      + "\(ByteSize.format(figure.messageBytes)) messages, median of \(figure.trials) trials of \(figure.messagesPerTrial); "
                      + "range \(Cell.number(figure.slowest / 1e9, 3))-\(Cell.number(figure.fastest / 1e9, 3)))")
                loopback = figure
            }
        }
        let table = ResultTable(options: options, loopback: loopback, plainTCP: plainTCP)
        table.printHeader()

        let loop = SocketLoop()
        defer { loop.close() }
        let control: String
        do {
            control = try loop.bindControl("tcp://127.0.0.1:*")
        } catch {
            throw PerfError(code: "perf.socket", "the driver could not bind its control socket on 127.0.0.1: \(error)")
        }
        let ranks = try spawnRanks(control: control)
        do {
            try serve(loop, ranks: ranks, table: table)
        } catch {
            Self.stop(ranks, grace: .zero)
            throw error
        }
        Self.stop(ranks, grace: .seconds(10))
        table.printSummary(otherCores: load.otherCores())
    }

    private func printPreamble() {
        let modes = options.modes.map(\.rawValue).joined(separator: ", ")
        print("# allreduce-perf: N = \(options.worldSize) processes, ring all-reduce of float32 over ZeroMQ tcp://127.0.0.1")
        let transports = options.securities.map { security in
            switch security {
            case .plain: "plain ZeroMQ (plain)"
            case .curve: "CurveZMQ (curve)"
            case .aead: "plain ZeroMQ with every frame sealed by AES-256-GCM (aead)"
            }
        }
        print("# ring transport: \(transports.joined(separator: ", "))")
        print("# modes \(modes); frame \(options.frames.map(ByteSize.format).joined(separator: ", ")), window \(options.windows.map(String.init).joined(separator: ", ")); "
              + "\(options.warmup) warm-up + \(options.iterations) measured iterations per size, a barrier before each; "
              + "a size's runs take turns iteration by iteration")
        print("# machine: \(MachineLoad.cpuModel()), \(MachineLoad.cores) cores, load average \(Cell.number(MachineLoad.loadAverage(), 2))")
        print("# time = median over iterations of the slowest rank; algbw = bytes / time; busbw = algbw * 2(N-1)/N")
        fflush(nil)
    }

    /// Runs the protocol until every rank has finished.
    private func serve(_ loop: SocketLoop, ranks: [Process], table: ResultTable) throws(PerfError) {
        var state = DriverState(worldSize: options.worldSize)
        let silence = Duration.milliseconds(Int(options.timeoutSeconds * 1000))
        var lastHeard = ContinuousClock.now
        while true {
            switch loop.control.pop(until: .now + .milliseconds(200)) {
            case .item(let frame):
                lastHeard = .now
                let message = try PerfMessage(decoding: frame.bytes, source: "a rank process")
                for directive in try state.on(message, from: frame.peer) {
                    switch directive {
                    case .send(let reply, let peer):
                        loop.sendControl(reply.encoded(generation: RankProcess.generation.rawValue), to: peer)
                    case .report(let run, let times):
                        table.add(run: run, times: times)
                    case .finished:
                        return
                    }
                }
            case .timedOut:
                if let (rank, process) = ranks.enumerated().first(where: { !$0.element.isRunning }) {
                    throw PerfError(code: "perf.rank-exited",
                                    "rank \(rank) (pid \(process.processIdentifier)) exited with status \(process.terminationStatus) before the benchmark finished")
                }
                if lastHeard.duration(to: .now) > silence {
                    throw PerfError(code: "perf.timeout",
                                    "no rank sent anything for \(options.timeoutSeconds) s (\(state.joined ? "all joined" : "not all joined yet"))")
                }
            case .closed:
                throw PerfError(code: "perf.socket", "the driver's sockets closed before the ranks finished")
            }
        }
    }

    /// Starts one process per rank: this executable, with the same options and the hidden role.
    private func spawnRanks(control: String) throws(PerfError) -> [Process] {
        guard let executable = Bundle.main.executablePath else {
            throw PerfError(code: "perf.spawn", "cannot find this program's own executable to start the ranks")
        }
        var ranks: [Process] = []
        var environment = ProcessInfo.processInfo.environment
        if options.securities.contains(.curve) {
            // One key pair for the whole benchmark, made now and never written anywhere: the
            // ranks use it as their identity and admit only it on their rings.
            do {
                let pair = try CurveKeyPair.generate()
                environment[RankProcess.keyVariable] = "\(pair.publicKey.z85) \(pair.secretKey.z85)"
            } catch {
                throw PerfError(code: "perf.spawn", "could not make a CurveZMQ key pair: \(error)")
            }
        }
        if options.securities.contains(.aead) {
            environment[RankProcess.ringKeyVariable] = SealedRingLink.newKey().map { String(format: "%02x", $0) }.joined()
        }
        for rank in 0..<options.worldSize {
            let process = Process()
            process.environment = environment
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = options.rankArguments(rank: rank, control: control, parentPID: getpid())
            // Ranks print only errors; keep them off stdout, which may be parsed line by line.
            process.standardOutput = FileHandle.standardError
            do {
                try process.run()
            } catch {
                Self.stop(ranks, grace: .zero)
                throw PerfError(code: "perf.spawn", "could not start rank \(rank) from \(executable): \(error)")
            }
            ranks.append(process)
        }
        return ranks
    }

    /// Waits up to `grace` for the ranks to exit, then kills the rest and reaps them all.
    private static func stop(_ ranks: [Process], grace: Duration) {
        let deadline = ContinuousClock.now + grace
        while ranks.contains(where: \.isRunning) && ContinuousClock.now < deadline { usleep(20_000) }
        for process in ranks where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in ranks { process.waitUntilExit() }
    }
}
