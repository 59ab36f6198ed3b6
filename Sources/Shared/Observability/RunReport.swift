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
    /// Generations the coordinator started, as `summary.json` counts them (membership changes
    /// and fenced attempts, including those that committed nothing); nil when the caller does not
    /// know, and the report then counts the generations that committed steps.
    public var generationsStarted: Int?
    /// The held-out evaluations `metrics.jsonl` holds, in step order.
    public var validation: [ValidationPoint]

    public init(run: String, steps: [StepRecord], redone: [RedoneWork] = [], pricePerWorkerHour: Double? = nil,
                cpuSeconds: Double? = nil, cpuSamples: Int? = nil, generationsStarted: Int? = nil,
                validation: [ValidationPoint] = []) {
        self.run = run
        self.steps = steps
        self.redone = redone
        self.pricePerWorkerHour = pricePerWorkerHour
        self.cpuSeconds = cpuSeconds
        self.cpuSamples = cpuSamples
        self.generationsStarted = generationsStarted
        self.validation = validation
    }

    /// `redone.jsonl` beside a `metrics.jsonl`.
    public static func redonePath(besideMetrics metricsPath: String) -> String {
        guard let slash = metricsPath.lastIndex(of: "/") else { return "redone.jsonl" }
        return String(metricsPath[...slash]) + "redone.jsonl"
    }

    /// Reads `metrics.jsonl` and, when present, `redone.jsonl` beside it; a line that does not
    /// decode is an error naming its file and line number.
    public static func load(run: String, metricsPath: String, pricePerWorkerHour: Double? = nil,
                            cpuSeconds: Double? = nil, cpuSamples: Int? = nil, generationsStarted: Int? = nil) throws -> RunReport {
        let steps = try readLines(StepRecord.self, path: metricsPath, what: "metrics line")
        let validation = try readLines(ValidationLine.self, path: metricsPath, what: "metrics line").compactMap(\.point)
        let redonePath = redonePath(besideMetrics: metricsPath)
        let redone = FileManager.default.fileExists(atPath: redonePath)
            ? try readLines(RedoneWork.self, path: redonePath, what: "redone-work line") : []
        return RunReport(run: run, steps: steps, redone: redone, pricePerWorkerHour: pricePerWorkerHour,
                         cpuSeconds: cpuSeconds, cpuSamples: cpuSamples, generationsStarted: generationsStarted,
                         validation: validation)
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
        /// Shares of step time in percent: data, compute, all-reduce and the rest (coordination,
        /// stragglers), adding up to 100. The phase times are each the slowest worker's, so in
        /// one step they can come from different workers and add up to more than the step; such a
        /// step counts as lasting their sum, and has no rest.
        public var stepShares = StepShares()
        /// Generations started (`summary.json`'s figure) when known, else those that committed steps.
        public var generations = 0
        /// Distinct generations among the committed steps.
        public var generationsCommitting = 0
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
        s.generationsCommitting = Set(steps.map(\.generation)).count
        s.generations = generationsStarted ?? s.generationsCommitting
        s.stepShares = stepShares
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

/// Where step time went, in percent of it: the four add up to 100 (`RunReport.Summary.stepShares`).
public struct StepShares: Sendable, Equatable {
    public var data = 0.0
    public var compute = 0.0
    public var allReduce = 0.0
    public var other = 0.0

    public init(data: Double = 0, compute: Double = 0, allReduce: Double = 0, other: Double = 0) {
        (self.data, self.compute, self.allReduce, self.other) = (data, compute, allReduce, other)
    }
}

extension RunReport {
    /// Step-time shares in percent that add up to 100 (see `Summary.stepShares`).
    var stepShares: StepShares {
        var data = 0.0, compute = 0.0, allReduce = 0.0, other = 0.0
        for step in steps {
            let phases = step.dataSeconds + step.computeSeconds + step.allReduceSeconds
            data += step.dataSeconds
            compute += step.computeSeconds
            allReduce += step.allReduceSeconds
            other += max(0, step.stepSeconds - phases)
        }
        let total = data + compute + allReduce + other
        guard total > 0 else { return StepShares() }
        return StepShares(data: 100 * data / total, compute: 100 * compute / total, allReduce: 100 * allReduce / total,
                          other: 100 * other / total)
    }

    /// Percentages rounded to `decimals` so that the printed figures still add up to exactly 100
    /// (largest remainder: the parts that lost most to rounding get the missing units).
    public static func roundedShares(_ shares: [Double], decimals: Int = 1) -> [Double] {
        let unit = pow(10, Double(decimals))
        let scaled = shares.map { $0 * unit }
        var floors = scaled.map { $0.rounded(.down) }
        let target = (shares.reduce(0, +) * unit).rounded()
        let missing = Int(target - floors.reduce(0, +))
        let order = scaled.indices.sorted { scaled[$0] - floors[$0] > scaled[$1] - floors[$1] }
        for index in order.prefix(max(0, missing)) { floors[index] += 1 }
        return floors.map { $0 / unit }
    }
}
