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
    /// What one worker costs per hour (any currency); nil leaves cost out of the report.
    public var pricePerWorkerHour: Double?

    public init(run: String, steps: [StepRecord], pricePerWorkerHour: Double? = nil) {
        self.run = run
        self.steps = steps
        self.pricePerWorkerHour = pricePerWorkerHour
    }

    /// Reads `metrics.jsonl`; a line that does not decode is an error naming its line number.
    public static func load(run: String, metricsPath: String, pricePerWorkerHour: Double? = nil) throws -> RunReport {
        let text: String
        do { text = try String(contentsOfFile: metricsPath, encoding: .utf8) } catch {
            throw ObservabilityError(.io, "cannot read \(metricsPath): \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        var steps: [StepRecord] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            do { steps.append(try decoder.decode(StepRecord.self, from: Data(line.utf8))) } catch {
                throw ObservabilityError(.io, "\(metricsPath) line \(index + 1) is not a metrics line: \(error)")
            }
        }
        return RunReport(run: run, steps: steps, pricePerWorkerHour: pricePerWorkerHour)
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

        /// Useful over paid worker time, in 0...1 (1 for an empty run).
        public var efficiency: Double { workerSeconds > 0 ? usefulWorkerSeconds / workerSeconds : 1 }
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
        }
        return s
    }
}
