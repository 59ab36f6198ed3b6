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
    private let loop = SocketLoop()

    init(options: PerfOptions, rank: Int, control: String, parentPID: Int32) {
        self.options = options
        self.rank = rank
        self.control = control
        self.parentPID = parentPID
    }

    /// Runs the whole plan; returns normally once the driver says goodbye.
    func run() throws(PerfError) {
        Self.exitWhenOrphaned(parentPID: parentPID, rank: rank)
        defer { loop.close() }
        do {
            try runPlan()
        } catch {
            send(.failed(rank: rank, reason: error.message))
            throw error
        }
    }

    private func runPlan() throws(PerfError) {
        let ringEndpoint: String
        do {
            try loop.connectControl(control)
            ringEndpoint = try loop.bindRing(host: "127.0.0.1")
        } catch {
            throw PerfError(code: "perf.socket", "rank \(rank) could not open its sockets (driver at \(control)): \(error)")
        }
        send(.hello(rank: rank, ring: ringEndpoint))
        guard case .ring(let next) = try receive(waitingFor: "the next rank's endpoint") else {
            throw PerfError(code: "perf.protocol", "rank \(rank) expected the next rank's endpoint first")
        }
        let link: ZeroMQRingLink
        var reducers: [ReduceMode: RingAllReduce] = [:]
        do {
            link = try ZeroMQRingLink(loop: loop, generation: Self.generation, rank: rank, worldSize: options.worldSize, next: next)
            for mode in options.modes { reducers[mode] = try RingAllReduce(link: link, settings: options.settings(mode)) }
        } catch {
            throw PerfError(code: "perf.socket", "rank \(rank) could not connect its ring to \(next): \(error)")
        }

        var input: [Float] = []
        for run in PerfRun.plan(options) {
            if input.count != run.count { input = PerfVector.input(count: run.count, rank: rank) }
            let times = try measure(run, input: input, reducer: reducers[run.mode]!)
            send(.times(run: run.index, seconds: times))
        }
        send(.done)
        guard case .bye = try receive(waitingFor: "the driver's goodbye") else {
            throw PerfError(code: "perf.protocol", "rank \(rank) expected goodbye after its last run")
        }
    }

    /// Warm-up and measured iterations of one run; returns the measured seconds. The first result
    /// is checked against the known sum (outside the timing), so a fast wrong answer cannot pass.
    private func measure(_ run: PerfRun, input: [Float], reducer: RingAllReduce) throws(PerfError) -> [Double] {
        var times: [Double] = []
        times.reserveCapacity(options.iterations)
        for iteration in 0..<(options.warmup + options.iterations) {
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
            if iteration >= options.warmup { times.append(seconds) }
        }
        return times
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
