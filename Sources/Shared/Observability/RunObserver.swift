import Core
import Foundation

/// Everything a coordinator shows about its run, behind a handful of calls: after each commit
/// it updates the progress line, TensorBoard scalars, the status board (and so `/status`,
/// `/metrics` and the page), and the timeline; at the end it writes `trace.json` and
/// `report.html` into the run directory.
///
/// Thread-safe. Nothing here may stop training: outputs that fail to write throw from the call
/// that wrote them, and the caller decides whether to log and carry on.
public final class RunObserver: Sendable {
    public struct Settings: Sendable {
        /// Write TensorBoard scalars to `<run directory>/tensorboard`. Default true.
        public var tensorBoard = true
        /// Record the timeline and write `<run directory>/trace.json` at the end. Default true.
        public var trace = true
        /// The status server's port (0: any free port); nil serves nothing. Default nil.
        public var statusPort: UInt16?
        /// The status server's IPv4 address. Default 127.0.0.1 (this machine only).
        public var statusHost = "127.0.0.1"
        /// Show the progress line on standard error. Default true.
        public var progress = true
        /// Steps between plain progress lines when standard error is not a terminal. Default 10.
        public var progressEvery = 10
        /// A worker-hour price for the report's cost lines; nil leaves them out.
        public var pricePerWorkerHour: Double?
        /// Tokens the status server requires (beyond loopback); the status token is written to
        /// `<run directory>/status.token` (mode 0600) before the server answers. Nil: none.
        public var statusAccess: StatusAccess?
        /// A request refused for want of a token, to log (once per address a minute).
        public var onRefusedRequest: (@Sendable (_ address: String, _ unlogged: Int) -> Void)?

        public init() {}

        public func validate() throws {
            guard progressEvery >= 1 else {
                throw ObservabilityError(.invalidSetting, "progressEvery = \(progressEvery) must be at least 1")
            }
            if let price = pricePerWorkerHour, !(price.isFinite && price >= 0) {
                throw ObservabilityError(.invalidSetting, "pricePerWorkerHour = \(price) must be a finite, non-negative number")
            }
        }
    }

    public let run: String
    public let directory: String
    public let settings: Settings
    /// The timeline; disabled (and free) unless `settings.trace`.
    public let trace: TraceRecorder
    /// The status the server shows; also readable directly.
    public let board: StatusBoard
    private let tensorBoard: TensorBoardWriter?
    private let server: StatusServer?
    private let progress: ProgressLine?

    /// Creates the outputs and starts the status server.
    ///
    /// - Parameters:
    ///   - directory: the run directory; `tensorboard/`, `trace.json` and `report.html` go there.
    ///   - origin: time zero of the timeline; the coordinator's start.
    public init(run: String, directory: String, totalSteps: Int, settings: Settings = Settings(),
                origin: ContinuousClock.Instant = .now) throws {
        try settings.validate()
        self.run = run
        self.directory = directory
        self.settings = settings
        trace = TraceRecorder(enabled: settings.trace, processName: run, origin: origin)
        tracePath = Self.unusedTracePath(in: directory)
        board = StatusBoard(run: run, totalSteps: totalSteps)
        tensorBoard = settings.tensorBoard ? try TensorBoardWriter(directory: directory + "/tensorboard") : nil
        progress = settings.progress ? ProgressLine(logEvery: settings.progressEvery) : nil
        if let port = settings.statusPort {
            let server = try StatusServer(host: settings.statusHost, port: port)
            server.serveStatus(from: board)
            if let access = settings.statusAccess {
                do {
                    try StatusFile.writeToken(access.statusToken, directory: directory)
                } catch {
                    server.stop()
                    throw error
                }
                server.requireTokens(access, onRefused: settings.onRefusedRequest)
            }
            server.start()
            self.server = server
            // Written once the server answers, so that whoever finds the file can ask it.
            do {
                try StatusFile(directory: directory).write(url: server.url, run: run)
            } catch {
                server.stop()
                throw error
            }
        } else {
            server = nil
        }
    }

    /// The status page's address, e.g. `http://127.0.0.1:40117`; nil without a server.
    public var statusURL: String? { server?.url }

    /// Status requests refused for want of a token.
    public var refusedStatusRequests: Int { server?.refusedRequests ?? 0 }

    public var tensorBoardPath: String? { tensorBoard?.path }
    /// `trace.json`, or for a resumed run whose directory already has one, the first free
    /// `trace-N.json` (N from 2): an earlier invocation's timeline is never overwritten.
    public let tracePath: String
    public var reportPath: String { directory + "/report.html" }

    /// Records a committed step everywhere.
    ///
    /// - Parameters:
    ///   - dealtAt: when the step's leases went out; the start of its spans on the timeline.
    ///   - workerPhases: each worker's reported phase durations in seconds, in order (data,
    ///     compute, all-reduce), drawn on the worker's lane: for workers that sent no spans.
    ///   - workerSpans: the spans workers recorded themselves, each placed from the moment the
    ///     coordinator sent that worker its lease.
    ///   - stepsThisRun: steps committed by this invocation, for the ETA.
    public func stepCommitted(_ record: StepRecord, dealtAt: ContinuousClock.Instant, committedAt: ContinuousClock.Instant = .now,
                              workerPhases: [(worker: WorkerID, phases: [(name: String, seconds: Double)])] = [],
                              workerSpans: [(worker: WorkerID, leaseSent: ContinuousClock.Instant, spans: [WorkerSpan])] = [],
                              stepsThisRun: Int) throws {
        board.recordCommit(step: record.step, samples: record.samples, loss: record.loss ?? .nan, learningRate: record.learningRate,
                           samplesPerSecond: record.samplesPerSecond, generation: record.generation,
                           elapsedSeconds: record.wallSeconds, stepsThisRun: stepsThisRun)
        let status = board.snapshot
        progress?.update(ProgressLine.Snapshot(
            step: record.step, totalSteps: status.totalSteps, samplesPerSecond: record.samplesPerSecond, loss: record.loss,
            workers: record.workers, generation: record.generation, etaSeconds: status.etaSeconds))
        if trace.isEnabled {
            trace.span(name: "step \(record.step)", category: "step", track: .coordinator, start: dealtAt, end: committedAt,
                       args: ["step": .int(record.step), "generation": .int(Int(record.generation)), "workers": .int(record.workers)])
            for (worker, phases) in workerPhases {
                trace.workerStep(record.step, worker: worker, generation: record.generation, start: dealtAt, phases: phases)
            }
            for (worker, leaseSent, spans) in workerSpans {
                trace.workerSpans(record.step, worker: worker, generation: record.generation, leaseSent: leaseSent, spans: spans)
            }
        }
        if let tensorBoard {
            var scalars: [(tag: String, value: Double)] = [
                ("throughput/samples_per_second", record.samplesPerSecond), ("time/step_seconds", record.stepSeconds),
                ("time/data_seconds", record.dataSeconds), ("time/compute_seconds", record.computeSeconds),
                ("time/all_reduce_seconds", record.allReduceSeconds), ("cluster/workers", Double(record.workers)),
                ("cluster/generation", Double(record.generation)),
            ]
            if let loss = record.loss { scalars.insert(("loss/train", loss), at: 0) }
            if let rate = record.learningRate { scalars.append(("optim/learning_rate", rate)) }
            if let bytes = record.allReduceBytes { scalars.append(("network/all_reduce_bytes", bytes)) }
            for (name, value) in (record.evaluationScalars ?? [:]).sorted(by: { $0.key < $1.key }) where value.isFinite {
                scalars.append(("eval/" + name, value))
            }
            try tensorBoard.scalars(scalars, step: record.step)
        }
    }

    /// Records a membership change: counts by status for `/status`, a marker on the timeline.
    public func membershipChanged(workers: [String: Int], generation: UInt64, note: String, at instant: ContinuousClock.Instant = .now) {
        board.update { $0.workers = workers; $0.generation = generation }
        trace.marker(name: note, category: "membership", track: .coordinator, at: instant, args: ["generation": .int(Int(generation))])
    }

    /// Records a checkpoint written by the background writer.
    public func checkpointWritten(step: Int, at instant: ContinuousClock.Instant = .now) {
        board.update { $0.checkpointStep = max($0.checkpointStep ?? 0, step) }
        trace.marker(name: "checkpoint step \(step)", category: "checkpoint", track: .coordinator, at: instant)
    }

    /// Ends the progress line so that a log message can be printed; the next commit redraws it.
    public func interruptProgress() { progress?.finish() }

    /// Ends the run's outputs: the final phase on the board, the progress line ended, TensorBoard
    /// closed, `trace.json` written (if tracing), `report.html` written from `metricsPath` (if
    /// given, with `redone.jsonl` beside it and the CPU figures), and the status server stopped.
    /// Every step is attempted; the first failure is thrown afterwards.
    public func finish(phase: RunStatus.Phase, metricsPath: String?, cpuSeconds: Double? = nil, cpuSamples: Int? = nil,
                       generationsStarted: Int? = nil, extraReportHTML: String = "") throws {
        board.update { $0.phase = phase }
        progress?.finish()
        var failures: [any Error] = []
        do { try tensorBoard?.close() } catch { failures.append(error) }
        if trace.isEnabled { do { try trace.write(to: tracePath) } catch { failures.append(error) } }
        if let metricsPath {
            do {
                try RunReport.load(run: run, metricsPath: metricsPath, pricePerWorkerHour: settings.pricePerWorkerHour,
                                   cpuSeconds: cpuSeconds, cpuSamples: cpuSamples, generationsStarted: generationsStarted)
                    .write(to: reportPath, extraHTML: extraReportHTML)
            } catch { failures.append(error) }
        }
        server?.stop()
        if server != nil { StatusFile(directory: directory).remove() }
        if let first = failures.first { throw first }
    }

    /// The first of `trace.json`, `trace-2.json`, `trace-3.json`... that does not exist yet.
    static func unusedTracePath(in directory: String) -> String {
        let first = directory + "/trace.json"
        if !FileManager.default.fileExists(atPath: first) { return first }
        var number = 2
        while FileManager.default.fileExists(atPath: directory + "/trace-\(number).json") { number += 1 }
        return directory + "/trace-\(number).json"
    }
}
