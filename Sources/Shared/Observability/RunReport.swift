import Foundation

/// The end-of-run report: where the time went, how much of the paid worker time became committed
/// steps, and what a sample cost, computed from `metrics.jsonl` alone (so it also works on a
/// run directory copied off the cluster).
///
/// Useful work is each committed step's own duration (leases out to commit) times its workers.
/// Everything else between two commits, times the workers of the later one, is counted as
/// wasted: attempts abandoned when membership changed, waiting for workers, admission. The
/// figures are estimates at commit granularity; the per-step phase times are the slowest
/// worker's, as `metrics.jsonl` records them.
public struct RunReport: Sendable {
    public var run: String
    public var steps: [StepRecord]
    /// Work done and thrown away (`redone.jsonl`), for goodput.
    public var redone: [RedoneWork]
    /// What one worker costs per hour (any currency); nil leaves cost out of the report.
    public var pricePerWorkerHour: Double?
    /// CPU-seconds the run used, as far as the caller could measure them (the coordinator: its
    /// own and its local workers'); nil when unknown.
    public var cpuSeconds: Double?
    /// Samples committed by the processes `cpuSeconds` covers (after a resume, this invocation's).
    public var cpuSamples: Int?

    public init(run: String, steps: [StepRecord], redone: [RedoneWork] = [], pricePerWorkerHour: Double? = nil,
                cpuSeconds: Double? = nil, cpuSamples: Int? = nil) {
        self.run = run
        self.steps = steps
        self.redone = redone
        self.pricePerWorkerHour = pricePerWorkerHour
        self.cpuSeconds = cpuSeconds
        self.cpuSamples = cpuSamples
    }

    /// `redone.jsonl` beside a `metrics.jsonl`.
    public static func redonePath(besideMetrics metricsPath: String) -> String {
        guard let slash = metricsPath.lastIndex(of: "/") else { return "redone.jsonl" }
        return String(metricsPath[...slash]) + "redone.jsonl"
    }

    /// Reads `metrics.jsonl` and, when present, `redone.jsonl` beside it; a line that does not
    /// decode is an error naming its file and line number.
    public static func load(run: String, metricsPath: String, pricePerWorkerHour: Double? = nil,
                            cpuSeconds: Double? = nil, cpuSamples: Int? = nil) throws -> RunReport {
        let steps = try readLines(StepRecord.self, path: metricsPath, what: "metrics line")
        let redonePath = redonePath(besideMetrics: metricsPath)
        let redone = FileManager.default.fileExists(atPath: redonePath)
            ? try readLines(RedoneWork.self, path: redonePath, what: "redone-work line") : []
        return RunReport(run: run, steps: steps, redone: redone, pricePerWorkerHour: pricePerWorkerHour,
                         cpuSeconds: cpuSeconds, cpuSamples: cpuSamples)
    }

    static func readLines<T: Decodable>(_ type: T.Type, path: String, what: String) throws -> [T] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ObservabilityError(.io, "cannot read \(path): \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        var values: [T] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            do { values.append(try decoder.decode(T.self, from: Data(line.utf8))) } catch {
                throw ObservabilityError(.io, "\(path) line \(index + 1) is not a \(what): \(error)")
            }
        }
        return values
    }

    /// Redone work of one cause, summed.
    public struct Redone: Sendable, Equatable {
        public var attempts = 0
        public var microBatches = 0
        public var samples = 0
        public var wallSeconds = 0.0
        public var workerSeconds = 0.0
    }

    /// The report's numbers.
    public struct Summary: Sendable, Equatable {
        public var steps = 0
        public var samples = 0
        public var firstLoss: Double?
        public var lastLoss: Double?
        public var wallSeconds = 0.0
        public var samplesPerSecond = 0.0
        /// Worker-seconds paid for (time between commits times workers) and the part of them
        /// spent inside the steps that committed.
        public var workerSeconds = 0.0
        public var usefulWorkerSeconds = 0.0
        /// Sums over committed steps of the slowest worker's phase times, and of step times.
        public var dataSeconds = 0.0
        public var computeSeconds = 0.0
        public var allReduceSeconds = 0.0
        public var stepSeconds = 0.0
        public var generations = 0
        public var maxWorkers = 0
        public var resumes = 0
        public var cost: Double?
        public var costPerThousandSamples: Double?
        public var costPerSample: Double?
        /// Work thrown away, by cause; causes with none are absent.
        public var redone: [RedoneWork.Cause: Redone] = [:]
        public var cpuSeconds: Double?
        public var cpuSecondsPerSample: Double?

        /// Useful over paid worker time, in 0...1 (1 for an empty run).
        public var efficiency: Double { workerSeconds > 0 ? usefulWorkerSeconds / workerSeconds : 1 }
        public var redoneSamples: Int { redone.values.reduce(0) { $0 + $1.samples } }
        /// Committed samples over all samples computed (committed plus redone), in 0...1.
        public var goodput: Double { samples + redoneSamples > 0 ? Double(samples) / Double(samples + redoneSamples) : 1 }
    }

    public var summary: Summary {
        var s = Summary()
        var previous: StepRecord?
        var applied = 0
        for step in steps {
            // wall_seconds restarts when a resumed coordinator starts: the interval is then the
            // new invocation's time to its first commit.
            var interval = step.wallSeconds
            if let previous, step.wallSeconds >= previous.wallSeconds { interval = step.wallSeconds - previous.wallSeconds }
            if let previous, step.wallSeconds < previous.wallSeconds { s.resumes += 1 }
            // Samples this step applied: the growth of the running total, or for the first line
            // its global batch (samples over step number).
            applied += previous.map { max(0, step.samples - $0.samples) } ?? (step.step > 0 ? step.samples / step.step : 0)
            previous = step
            s.wallSeconds += interval
            s.workerSeconds += max(interval, step.stepSeconds) * Double(step.workers)
            s.usefulWorkerSeconds += step.stepSeconds * Double(step.workers)
            s.dataSeconds += step.dataSeconds
            s.computeSeconds += step.computeSeconds
            s.allReduceSeconds += step.allReduceSeconds
            s.stepSeconds += step.stepSeconds
            s.maxWorkers = max(s.maxWorkers, step.workers)
        }
        s.steps = steps.count
        s.samples = steps.last?.samples ?? 0
        s.firstLoss = steps.first?.loss
        s.lastLoss = steps.last?.loss
        s.generations = Set(steps.map(\.generation)).count
        s.samplesPerSecond = s.wallSeconds > 0 ? Double(applied) / s.wallSeconds : 0
        if let price = pricePerWorkerHour {
            let cost = s.workerSeconds / 3600 * price
            s.cost = cost
            s.costPerThousandSamples = applied > 0 ? cost / Double(applied) * 1000 : nil
            s.costPerSample = applied > 0 ? cost / Double(applied) : nil
        }
        for work in redone {
            var r = s.redone[work.cause, default: Redone()]
            r.attempts += 1
            r.microBatches += work.microBatches
            r.samples += work.samples
            r.wallSeconds += work.wallSeconds
            r.workerSeconds += work.workerSeconds
            s.redone[work.cause] = r
        }
        s.cpuSeconds = cpuSeconds
        if let cpuSeconds {
            let samples = cpuSamples ?? applied
            s.cpuSecondsPerSample = samples > 0 ? cpuSeconds / Double(samples) : nil
        }
        return s
    }
}
