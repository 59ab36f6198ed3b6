import Collective
import Core
import Foundation
import Transport

/// One member of the benchmark's ring, in its own process (the hidden `--rank` role).
///
/// It joins the driver's control socket, announces its inbound ring endpoint, learns the next
/// rank's, and then runs every planned all-reduce over a `ZeroMQRingLink`, waiting at a barrier
/// held by the driver before each iteration so that the iterations of all ranks start together.
/// It times each iteration itself and reports the times per run; the driver takes the maximum
/// over ranks.
///
/// Every wait is bounded by `--timeout`, and a watchdog ends the process when the driver dies
/// (its parent process changes), so no rank outlives the benchmark.
final class RankProcess {
    /// The ring's generation; control messages carry it too (see `PerfMessage`).
    static let generation = Generation(1)
    /// What training passes: the default initial loss scale (used by fp16, ignored otherwise), so
    /// that fp16 pays for scaling and unscaling as it does in a run.
    static let lossScale = DynamicLossScale().scale

    let options: PerfOptions
    let rank: Int
    let control: String
    let parentPID: Int32
    /// The control socket and the plaintext ring.
    private let loop = SocketLoop()
    /// The CurveZMQ ring (`--security curve`): its own loop, because a loop's sockets are all
    /// plaintext or all CURVE. Every rank holds the one key pair the driver made for this
    /// invocation (`keyVariable`), and each admits only that key on its ring.
    private let secureLoop: SocketLoop?
    private let curveKey: CurveKeyPair?
    /// The sealed ring's plain sockets and the ranks' shared ring key (`--security aead`).
    private let sealedLoop: SocketLoop?
    private let ringKey: [UInt8]?

    /// The environment variable the driver hands the sealed ring's key in (hex).
    static let ringKeyVariable = "GROVE_PERF_RING_KEY"

    /// The environment variable the driver hands the benchmark's key pair in ("PUBLIC SECRET", Z85).
    static let keyVariable = "GROVE_PERF_CURVE_KEY"

    init(options: PerfOptions, rank: Int, control: String, parentPID: Int32) {
        self.options = options
        self.rank = rank
        self.control = control
        self.parentPID = parentPID
        let words = (ProcessInfo.processInfo.environment[Self.keyVariable] ?? "").split(separator: " ").map(String.init)
        if options.securities.contains(.curve), words.count == 2, let pub = CurveKey(z85: words[0]), let secret = CurveKey(z85: words[1]) {
            let pair = CurveKeyPair(publicKey: pub, secretKey: secret)
            curveKey = pair
            secureLoop = SocketLoop(security: .curve(CurveSettings(identity: pair, serverKey: pub)))
        } else {
            curveKey = nil
            secureLoop = nil
        }
        let hex = Array((ProcessInfo.processInfo.environment[Self.ringKeyVariable] ?? "").utf8)
        if options.securities.contains(.aead), hex.count == 2 * SealedRingLink.keyBytes {
            ringKey = stride(from: 0, to: hex.count, by: 2).compactMap { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16) }
            sealedLoop = SocketLoop()
        } else {
            ringKey = nil
            sealedLoop = nil
        }
    }

    /// Runs the whole plan; returns normally once the driver says goodbye.
    func run() throws(PerfError) {
        Self.exitWhenOrphaned(parentPID: parentPID, rank: rank)
        defer { loop.close(); secureLoop?.close(); sealedLoop?.close() }
        do throws(PerfError) {
            if options.securities.contains(.curve) && secureLoop == nil {
                throw PerfError(code: "perf.usage", "rank \(rank): --security curve without a key in \(Self.keyVariable)")
            }
            if options.securities.contains(.aead) && ringKey?.count != SealedRingLink.keyBytes {
                throw PerfError(code: "perf.usage", "rank \(rank): --security aead without a key in \(Self.ringKeyVariable)")
            }
            try runPlan()
        } catch {
            send(.failed(rank: rank, reason: error.message))
            throw error
        }
    }

    private func runPlan() throws(PerfError) {
        var endpoints: [String] = []
        do {
            try loop.connectControl(control)
            // One ring per transport measured; the driver passes the joined endpoints on as one word.
            for security in options.securities {
                switch security {
                case .plain: endpoints.append(try loop.bindRing(host: "127.0.0.1"))
                case .curve:
                    secureLoop!.admitRing(keys: [curveKey!.publicKey])
                    endpoints.append(try secureLoop!.bindRing(host: "127.0.0.1"))
                case .aead: endpoints.append(try sealedLoop!.bindRing(host: "127.0.0.1"))
                }
            }
        } catch {
            throw PerfError(code: "perf.socket", "rank \(rank) could not open its sockets (driver at \(control)): \(error)")
        }
        send(.hello(rank: rank, ring: endpoints.joined(separator: "|")))
        guard case .ring(let joinedNext) = try receive(waitingFor: "the next rank's endpoint") else {
            throw PerfError(code: "perf.protocol", "rank \(rank) expected the next rank's endpoint first")
        }
        let nexts = joinedNext.split(separator: "|").map(String.init)
        guard nexts.count == options.securities.count else {
            throw PerfError(code: "perf.protocol", "rank \(rank) was told \(nexts.count) next endpoints for \(options.securities.count) transports")
        }
        var reducers: [String: RingAllReduce] = [:]
        for (security, next) in zip(options.securities, nexts) {
            do {
                let link: any ClosableRingLink
                switch security {
                case .plain:
                    link = try ZeroMQRingLink(loop: loop, generation: Self.generation, rank: rank, worldSize: options.worldSize, next: next)
                case .curve:
                    link = try ZeroMQRingLink(loop: secureLoop!, generation: Self.generation, rank: rank, worldSize: options.worldSize,
                                              next: next, nextKey: curveKey!.publicKey)
                case .aead:
                    let sockets = try ZeroMQRingLink(loop: sealedLoop!, generation: Self.generation, rank: rank, worldSize: options.worldSize,
                                                     next: next)
                    link = try SealedRingLink(sockets, key: ringKey!, generation: Self.generation.rawValue, epoch: 0)
                }
                for run in PerfRun.plan(options) where run.security == security && reducers[run.reducerKey] == nil {
                    reducers[run.reducerKey] = try RingAllReduce(link: link, settings: options.settings(run))
                }
            } catch {
                throw PerfError(code: "perf.socket", "rank \(rank) could not connect its \(security) ring to \(next): \(error)")
            }
        }

        // The runs of one size take turns, iteration by iteration: a load that comes and goes on
        // a shared machine then falls on each of them alike, and their ratios (vs fp32, vs plain)
        // compare iterations measured side by side rather than minutes apart.
        let plan = PerfRun.plan(options)
        for size in options.sizes {
            let runs = plan.filter { $0.bytes == size }
            let input = PerfVector.input(count: size / 4, rank: rank)
            var times = Array(repeating: [Double](), count: runs.count)
            for iteration in 0..<(options.warmup + options.iterations) {
                for (k, run) in runs.enumerated() {
                    let seconds = try measure(run, iteration: iteration, input: input,
                                              reducer: reducers[run.reducerKey]!)
                    if iteration >= options.warmup { times[k].append(seconds) }
                }
            }
            for (k, run) in runs.enumerated() { send(.times(run: run.index, seconds: times[k])) }
        }
        send(.done)
        guard case .bye = try receive(waitingFor: "the driver's goodbye") else {
            throw PerfError(code: "perf.protocol", "rank \(rank) expected goodbye after its last run")
        }
    }

    /// One iteration of one run, after the barrier; returns its seconds. The first iteration's
    /// result is checked against the known sum (outside the timing), so a fast wrong answer
    /// cannot pass.
    private func measure(_ run: PerfRun, iteration: Int, input: [Float], reducer: RingAllReduce) throws(PerfError) -> Double {
        send(.ready(run: run.index, iteration: iteration))
        guard case .go = try receive(waitingFor: "the barrier before iteration \(iteration) of \(ByteSize.format(run.bytes)) \(run.mode)") else {
            throw PerfError(code: "perf.protocol", "rank \(rank) expected the barrier to open")
        }
        let start = ContinuousClock.now
        let outcome: ReduceOutcome
        do {
            outcome = try reducer.sum(microBatches: [input], count: run.count, totalMicroBatches: options.worldSize,
                                      lossScale: Self.lossScale)
        } catch {
            throw PerfError(code: "perf.collective", "rank \(rank), \(ByteSize.format(run.bytes)) \(run.mode), iteration \(iteration): \(error)")
        }
        let seconds = start.duration(to: .now).inSeconds
        if iteration == 0 { try PerfVector.check(outcome, run: run, worldSize: options.worldSize, rank: rank) }
        return seconds
    }

    private func send(_ message: PerfMessage) {
        loop.sendControl(message.encoded(generation: Self.generation.rawValue))
    }

    private func receive(waitingFor what: String) throws(PerfError) -> PerfMessage {
        switch loop.control.pop(until: .now + .milliseconds(Int(options.timeoutSeconds * 1000))) {
        case .item(let frame):
            return try PerfMessage(decoding: frame.bytes, source: "the driver at \(control)")
        case .timedOut:
            throw PerfError(code: "perf.timeout", "rank \(rank) waited \(options.timeoutSeconds) s for \(what) from the driver at \(control)")
        case .closed:
            throw PerfError(code: "perf.socket", "rank \(rank)'s sockets closed while it waited for \(what)")
        }
    }

    /// Ends this process soon after the driver is gone: an orphan is re-parented, so its parent
    /// process id changes. A thread polls rather than a signal because Swift cannot call the
    /// variadic `prctl(PR_SET_PDEATHSIG)`.
    private static func exitWhenOrphaned(parentPID: Int32, rank: Int) {
        let watchdog = Thread {
            while getppid() == parentPID { usleep(200_000) }
            FileHandle.standardError.write(Data("allreduce-perf rank \(rank): the driver (pid \(parentPID)) is gone, exiting\n".utf8))
            _exit(3)
        }
        watchdog.name = "perf-watchdog"
        watchdog.start()
    }
}
