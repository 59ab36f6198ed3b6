import ArgumentParser
import Coordination
import Core
import Foundation
import Training

struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Tries decode threads, compute threads and prefetch depth on this machine and saves the fastest.",
        discussion: """
            Each combination trains for --seconds on the configured dataset the way one worker does: \
            its share of a global batch (training.global_batch dealt to workers.local workers) is read \
            and decoded, then run forward and backward; the all-reduce is left out. The table shows the \
            median over each trial's steps of samples/s and of the share of a step spent waiting for \
            data. Results within --tolerance of the fastest count as ties and go to fewer threads. \
            With a tile directory the samples are in memory, so only model.threads is tried.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(name: .long, help: "Seconds of work per combination (at least 3 timed steps each).")
    var seconds: Double = 3

    @Option(name: .long, help: "Where to write the JSON report (default: tune.json in the run directory if it exists, else here).")
    var output: String?

    @Flag(name: .long, help: "Print the --set flags that select the choice, as the last line.")
    var apply = false

    @Option(name: .customLong("decode-threads"), parsing: .upToNextOption, help: "Decode thread counts to try (default 1, 2, ... up to twice the cores).")
    var decodeThreads: [Int] = []

    @Option(name: .customLong("compute-threads"), parsing: .upToNextOption, help: "Compute thread counts to try (default 1, 2, ... up to the cores).")
    var computeThreads: [Int] = []

    @Option(name: .long, parsing: .upToNextOption, help: "Prefetch depths to try (default 1 2 4).")
    var prefetch: [Int] = []

    @Option(name: .long, help: "Relative difference in samples/s below which two results tie.")
    var tolerance: Double = 0.03

    func validate() throws {
        guard seconds > 0, seconds.isFinite else { throw ValidationError("--seconds \(seconds) must be a positive number") }
        guard (0..<1).contains(tolerance) else { throw ValidationError("--tolerance \(tolerance) must be in 0..<1") }
    }

    func run() throws {
        let config = options.load()
        let readsManifest = !config.dataset.manifest.isEmpty
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let current = Tuner.Candidate(decodeThreads: config.dataset.decodeThreads, computeThreads: config.model.threads,
                                      prefetch: max(1, config.dataset.prefetch))
        var space = Tuner.Space.standard(cores: cores, readsManifest: readsManifest, fixed: current)
        if !decodeThreads.isEmpty, readsManifest { space.decodeThreads = decodeThreads }
        if !computeThreads.isEmpty { space.computeThreads = computeThreads }
        if !prefetch.isEmpty, readsManifest { space.prefetch = prefetch }
        try space.validate()

        let setup = try RunSetup(config: config)
        var notes: [String] = []
        if !readsManifest {
            notes.append("dataset.path is a tile directory held in memory: decode threads and prefetch do not matter, only model.threads was tried")
        }
        if config.model.name != "canopy-net" {
            notes.append("model \(config.model.name) ignores model.threads: compute threads do not matter")
        }
        let members = max(1, config.workers.local)
        if members > 1 {
            notes.append("one worker was measured; the \(members) local workers of a run share these \(cores) cores")
        }
        notes.append("medians of each trial's steps on a machine that may be shared; differences under \(percent(tolerance)) are ties")

        var plan = setup.makeStepPlan()
        let samplesPerStep = Tuner.lease(plan: &plan, step: .first, members: members).reduce(0) { $0 + $1.count }
        let dataset = readsManifest ? config.dataset.manifest : config.dataset.path
        let candidates = space.candidates
        print("""
            tuning \(setup.model.schemaName) on \(readsManifest ? "manifest" : "tile directory") \(dataset) \
            (\(setup.training.count) samples), \(cores) cores
            \(candidates.count) combinations x \(formatted(seconds)) s, \(samplesPerStep) samples per step \
            (global batch \(config.training.globalBatch) over \(members) worker\(members == 1 ? "" : "s"), micro-batch \(config.training.microBatch))

            decode  compute  prefetch  steps  samples/s  data wait
            """)
        var trials: [Tuner.Trial] = []
        var nextStep = Step.first
        for candidate in candidates {
            guard let trial = try Tuner.measure(candidate, setup: setup, plan: &plan, nextStep: &nextStep,
                                                members: members, seconds: seconds) else { continue }
            trials.append(trial)
            print(row(trial, marked: false, readsManifest: readsManifest))
            fflush(nil)  // every row as soon as it is measured, also when stdout is a pipe
        }
        guard let best = Tuner.best(of: trials, tolerance: tolerance) else {
            throw ValidationError("no combination completed a timed step")
        }
        let overrides = best.candidate.overrides(readsManifest: readsManifest)
        let report = Tuner.Report(
            createdAt: ISO8601DateFormatter().string(from: Date()), cores: cores,
            datasetKind: readsManifest ? "manifest" : "tiles", dataset: dataset, model: setup.model.schemaName,
            secondsPerCandidate: seconds, samplesPerStep: samplesPerStep, microBatch: config.training.microBatch,
            tolerance: tolerance, trials: trials, best: best, overrides: overrides, notes: notes)
        let destination = output ?? defaultOutput(runDirectory: config.run.directory)
        try report.encoded().write(to: URL(fileURLWithPath: destination))

        print("\nbest:")
        print(row(best, marked: true, readsManifest: readsManifest))
        if let slowest = trials.map(\.samplesPerSecond).min(), slowest > 0 {
            print("\(formatted(best.samplesPerSecond / slowest))x the slowest combination")
        }
        for note in notes { print("note: \(note)") }
        print("report: \(destination)")
        if apply { print(overrides.map { "--set \($0)" }.joined(separator: " ")) }
    }

    /// One table row; with a tile directory the decode columns show `-`, since they were not tried.
    func row(_ trial: Tuner.Trial, marked: Bool, readsManifest: Bool) -> String {
        let c = trial.candidate
        let decode = readsManifest ? "\(c.decodeThreads)" : "-", depth = readsManifest ? "\(c.prefetch)" : "-"
        return [pad(decode, 6), pad(c.computeThreads, 7), pad(depth, 8), pad(trial.steps, 5),
                pad(String(format: "%.2f", trial.samplesPerSecond), 9), pad(percent(trial.dataWaitShare), 9)]
            .joined(separator: "  ") + (marked ? "  *" : "")
    }

    /// The run directory when it exists (a tuned machine usually has run there), else the working
    /// directory; tuning never creates a run directory.
    func defaultOutput(runDirectory: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: runDirectory, isDirectory: &isDirectory), isDirectory.boolValue {
            return runDirectory + "/tune.json"
        }
        return "tune.json"
    }
}

private func pad(_ value: some CustomStringConvertible, _ width: Int) -> String {
    let text = value.description
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

private func percent(_ share: Double) -> String { String(format: "%.1f %%", share * 100) }

private func formatted(_ value: Double) -> String { String(format: value == value.rounded() ? "%.0f" : "%.2f", value) }
