import Config
import Coordination
import Core
import Dataset
import Foundation
import Model

/// Finds the decode threads, compute threads and prefetch depth that make one worker train
/// fastest on this machine, by running each combination for a few seconds of real work.
///
/// A trial repeats what a worker does with a lease (`WorkerRuntime.runLease` without the
/// all-reduce): the worker's share of a step's micro-batches is read and decoded through
/// `SampleSet` and fed to `accumulateGradient` with the candidate's compute threads. Every lease is
/// one timed step; a trial reports the median over its steps, so one step slowed by a neighbour
/// on a shared machine does not decide the answer. The first step of every trial is discarded: it
/// pays for cold caches and for the model's first allocations.
///
/// Candidate generation, summarising, choosing and serialising are pure; only `measure` reads a
/// clock and does work.
public enum Tuner {
    /// One combination to try.
    public struct Candidate: Sendable, Hashable, Codable, CustomStringConvertible {
        /// `dataset.decode_threads`.
        public var decodeThreads: Int
        /// `model.threads`.
        public var computeThreads: Int
        /// `dataset.prefetch`.
        public var prefetch: Int

        public init(decodeThreads: Int, computeThreads: Int, prefetch: Int) {
            self.decodeThreads = decodeThreads
            self.computeThreads = computeThreads
            self.prefetch = prefetch
        }

        /// Threads the candidate keeps busy; the tie-breaker prefers fewer.
        public var totalThreads: Int { decodeThreads + computeThreads }

        public var description: String {
            "decode \(decodeThreads), compute \(computeThreads), prefetch \(prefetch)"
        }

        /// The `--set` overrides that select this candidate in `coordinator run`. Decode threads
        /// and prefetch only matter when samples come from a manifest, so a tile directory gets
        /// only `model.threads`.
        public func overrides(readsManifest: Bool) -> [String] {
            var result = ["model.threads=\(computeThreads)"]
            if readsManifest {
                result.insert("dataset.decode_threads=\(decodeThreads)", at: 0)
                result.append("dataset.prefetch=\(prefetch)")
            }
            return result
        }
    }

    /// The values each knob may take; the candidates are their product.
    public struct Space: Sendable, Equatable {
        public var decodeThreads: [Int]
        public var computeThreads: [Int]
        public var prefetch: [Int]

        public init(decodeThreads: [Int], computeThreads: [Int], prefetch: [Int]) {
            self.decodeThreads = decodeThreads
            self.computeThreads = computeThreads
            self.prefetch = prefetch
        }

        /// The default space for a machine with `cores` cores. Compute threads go up to the core
        /// count (more only time-slice the same cores); decode threads up to twice it, since
        /// decoding also waits on reads. With a tile directory the samples are already in memory,
        /// so decode threads and prefetch are pinned to `fixed` and only compute threads vary.
        public static func standard(cores: Int, readsManifest: Bool, fixed: Candidate) -> Space {
            let cores = max(1, cores)
            let compute = powersOfTwo(upTo: cores)
            guard readsManifest else {
                return Space(decodeThreads: [fixed.decodeThreads], computeThreads: compute, prefetch: [fixed.prefetch])
            }
            return Space(decodeThreads: powersOfTwo(upTo: max(2, 2 * cores)), computeThreads: compute, prefetch: [1, 2, 4])
        }

        /// Every combination, fewest threads first, without repeats, in a fixed order.
        public var candidates: [Candidate] {
            var seen = Set<Candidate>()
            var result: [Candidate] = []
            for compute in computeThreads.sorted() {
                for decode in decodeThreads.sorted() {
                    for depth in prefetch.sorted() {
                        let candidate = Candidate(decodeThreads: decode, computeThreads: compute, prefetch: depth)
                        if seen.insert(candidate).inserted { result.append(candidate) }
                    }
                }
            }
            return result
        }

        /// Throws when a list is empty or holds a value `coordinator run` would refuse, naming it.
        public func validate() throws(TrainingError) {
            for (name, values, range) in [("decode threads (dataset.decode_threads)", decodeThreads, 1...64),
                                          ("compute threads (model.threads)", computeThreads, 1...256),
                                          ("prefetch (dataset.prefetch)", prefetch, 1...256)] {
                guard !values.isEmpty else { throw TrainingError(code: "tune.empty-space", "no values to try for \(name)") }
                if let bad = values.first(where: { !range.contains($0) }) {
                    throw TrainingError(code: "tune.bad-value", "\(name) \(bad) is outside \(range.lowerBound)...\(range.upperBound)")
                }
            }
        }

        static func powersOfTwo(upTo limit: Int) -> [Int] {
            var values: [Int] = [], value = 1
            while value <= limit {
                values.append(value)
                value *= 2
            }
            if values.last != limit { values.append(limit) }
            return values
        }
    }

    /// What one timed lease took.
    public struct StepTiming: Sendable, Equatable, Codable {
        public var samples: Int
        public var seconds: Double
        /// Time spent waiting for decoded samples.
        public var waitSeconds: Double

        public init(samples: Int, seconds: Double, waitSeconds: Double) {
            self.samples = samples
            self.seconds = seconds
            self.waitSeconds = waitSeconds
        }
    }

    /// One candidate's result.
    public struct Trial: Sendable, Equatable, Codable {
        public var candidate: Candidate
        /// Timed steps (leases) after the discarded first one.
        public var steps: Int
        /// Median over steps of samples per second.
        public var samplesPerSecond: Double
        /// Median over steps of the share of the step spent waiting for data, 0...1.
        public var dataWaitShare: Double

        public init(candidate: Candidate, steps: Int, samplesPerSecond: Double, dataWaitShare: Double) {
            self.candidate = candidate
            self.steps = steps
            self.samplesPerSecond = samplesPerSecond
            self.dataWaitShare = dataWaitShare
        }
    }

    /// Summarises the timed steps of one candidate by their medians; nil without a usable step.
    public static func summarise(_ candidate: Candidate, steps: [StepTiming]) -> Trial? {
        let usable = steps.filter { $0.seconds > 0 && $0.samples > 0 }
        guard !usable.isEmpty else { return nil }
        return Trial(candidate: candidate, steps: usable.count,
                     samplesPerSecond: median(usable.map { Double($0.samples) / $0.seconds }),
                     dataWaitShare: median(usable.map { min(1, max(0, $0.waitSeconds / $0.seconds)) }))
    }

    /// The middle value (the mean of the two middle values for an even count); 0 when empty.
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted(), middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The fastest trial, where every trial within `tolerance` (a fraction) of the fastest counts
    /// as a tie: on a shared machine such differences are noise. Ties go to fewer threads in
    /// total, then fewer compute threads, then a shallower prefetch (less memory), then speed.
    public static func best(of trials: [Trial], tolerance: Double = 0.03) -> Trial? {
        guard let fastest = trials.map(\.samplesPerSecond).max() else { return nil }
        let floor = fastest * (1 - max(0, tolerance))
        return trials.filter { $0.samplesPerSecond >= floor }.min { a, b in
            let x = a.candidate, y = b.candidate
            if x.totalThreads != y.totalThreads { return x.totalThreads < y.totalThreads }
            if x.computeThreads != y.computeThreads { return x.computeThreads < y.computeThreads }
            if x.prefetch != y.prefetch { return x.prefetch < y.prefetch }
            return a.samplesPerSecond > b.samplesPerSecond
        }
    }
}

extension Tuner {
    /// What `coordinator tune` writes: the machine, the workload, every trial and the choice.
    public struct Report: Sendable, Equatable, Codable {
        public var format = "grove-tune"
        public var version = 1
        public var createdAt: String
        /// Cores the process saw.
        public var cores: Int
        /// `manifest` (samples decoded from gzip'd files) or `tiles` (a tile directory in memory).
        public var datasetKind: String
        /// The manifest or tile directory the trials read.
        public var dataset: String
        public var model: String
        public var secondsPerCandidate: Double
        /// Samples of one timed step: the worker's share of a global batch.
        public var samplesPerStep: Int
        public var microBatch: Int
        public var tolerance: Double
        public var trials: [Trial]
        public var best: Trial
        /// `section.key=value` overrides that select `best`.
        public var overrides: [String]
        /// Caveats for the reader, such as knobs that did not matter.
        public var notes: [String]

        public init(createdAt: String, cores: Int, datasetKind: String, dataset: String, model: String,
                    secondsPerCandidate: Double, samplesPerStep: Int, microBatch: Int, tolerance: Double,
                    trials: [Trial], best: Trial, overrides: [String], notes: [String]) {
            self.createdAt = createdAt
            self.cores = cores
            self.datasetKind = datasetKind
            self.dataset = dataset
            self.model = model
            self.secondsPerCandidate = secondsPerCandidate
            self.samplesPerStep = samplesPerStep
            self.microBatch = microBatch
            self.tolerance = tolerance
            self.trials = trials
            self.best = best
            self.overrides = overrides
            self.notes = notes
        }

        /// Pretty JSON with sorted snake_case keys, so that two reports diff line by line.
        public func encoded() throws -> Data {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            return try encoder.encode(self)
        }

        /// Reads a report written by `encoded()`; `source` names it in the error.
        public static func decode(_ data: Data, source: String) throws -> Report {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let report: Report
            do { report = try decoder.decode(Report.self, from: data) } catch {
                throw TrainingError(code: "tune.bad-report", "\(source) is not a tuning report: \(error)")
            }
            guard report.format == "grove-tune", report.version == 1 else {
                throw TrainingError(code: "tune.bad-report",
                                    "\(source) has format '\(report.format)' version \(report.version); expected grove-tune version 1")
            }
            return report
        }
    }

    /// The micro-batches of worker rank 0's lease for `step`, when a run's global batch is dealt to
    /// `members` workers: the share one worker trains on between two all-reduces.
    public static func lease(plan: inout StepPlan, step: Step, members: Int) -> [[Int]] {
        let share = StepPlan.deal(microBatches: plan.microBatchesPerStep, members: max(1, members))[0]
        return share.map { plan.microBatch($0, ofStep: step) }
    }

    /// Runs `candidate` for at least `seconds` and at least `minimumSteps` timed leases (plus one
    /// discarded warm-up lease) on the samples of `setup`, the way a worker would.
    ///
    /// - Parameters:
    ///   - members: workers the global batch is dealt to (`workers.local`, at least 1).
    ///   - nextStep: the step of the next lease; advanced so that successive trials read
    ///     different samples.
    public static func measure(_ candidate: Candidate, setup: RunSetup, plan: inout StepPlan, nextStep: inout Step,
                               members: Int, seconds: Double, minimumSteps: Int = 3) throws -> Trial? {
        var modelSettings = setup.config.model
        modelSettings.threads = candidate.computeThreads
        let model = try ModelFactory.make(modelSettings, bands: setup.model.inputBands)
        let parameters = model.initialParameters(seed: setup.config.training.seed)
        let executor = StepExecutor(setup: setup, model: model, decodeThreads: candidate.decodeThreads, prefetch: candidate.prefetch)
        let clock = ContinuousClock()
        let start = clock.now
        var timings: [StepTiming] = []
        var leases = 0
        while leases <= minimumSteps || start.duration(to: clock.now) < .seconds(seconds) {
            let batches = lease(plan: &plan, step: nextStep, members: members)
            nextStep = nextStep.next
            let stepStart = clock.now
            // Epoch 0 for all: the tuner times the augmentation a run would do, not its draws.
            let waited = try executor.gradients(batches, parameters: parameters, dataEpochs: batches.map { $0.map { _ in 0 } }).waited
            let elapsed = stepStart.duration(to: clock.now)
            if leases > 0 {
                timings.append(StepTiming(samples: batches.reduce(0) { $0 + $1.count }, seconds: elapsed.inSeconds,
                                          waitSeconds: waited.inSeconds))
            }
            leases += 1
        }
        return summarise(candidate, steps: timings)
    }
}
