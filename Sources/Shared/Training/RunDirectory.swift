import Model
import Foundation

/// The files of a run (README.md, "Run directory"): `config.yaml` (the effective configuration),
/// `metrics.jsonl` (one line per committed step), `summary.json`, `checkpoints/`, `logs/`.
public struct RunDirectory: Sendable {
    public let path: String
    public let checkpoints: String

    public init(path: String, checkpointDirectory: String) {
        self.path = path
        checkpoints = checkpointDirectory.hasPrefix("/") ? checkpointDirectory : path + "/" + checkpointDirectory
    }

    public var config: String { path + "/config.yaml" }
    public var metrics: String { path + "/metrics.jsonl" }
    public var summary: String { path + "/summary.json" }
    /// Work done and thrown away, one line per abandoned attempt (`RedoneWork`).
    public var redone: String { path + "/redone.jsonl" }
    public var logs: String { path + "/logs" }
    /// `loss.svg`, written by the coordinator at the end.
    public var lossCurve: String { path + "/loss.svg" }
    /// What a run leaves for people to read besides its metrics: the summary, and what
    /// `RunObserver` writes (report, timeline, TensorBoard files) and the loss curve. A run
    /// started over removes them, so that two runs never mix.
    public var readableOutputs: [String] {
        [summary, lossCurve] + ["report.html", "trace.json", "tensorboard", "status.json"].map { path + "/" + $0 } + numberedTraces
    }

    /// `trace-2.json`, `trace-3.json`...: the timelines of resumed invocations (`RunObserver`).
    var numberedTraces: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { $0.hasPrefix("trace-") && $0.hasSuffix(".json") }.sorted().map { path + "/" + $0 }
    }

    public func create() throws {
        for directory in [path, checkpoints, logs] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    /// The metrics lines of steps after `step`: what a resume from `step` will run again.
    public func metricsLines(after step: Int) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: metrics, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let lineStep = object["step"] as? Int, lineStep > step else { return nil }
            return object
        }
    }

    /// Keeps the metrics of steps up to `step` and drops the rest: a resumed run redoes the steps
    /// after its checkpoint, and their lines are written again.
    public func truncateMetrics(after step: Int) throws {
        guard let text = try? String(contentsOfFile: metrics, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let data = line.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let lineStep = object["step"] as? Int else { return false }
            return lineStep <= step
        }
        try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(toFile: metrics, atomically: true, encoding: .utf8)
    }
}

/// Appends one JSON object per line, flushed at every line so that a crash loses at most the line
/// being written.
public final class JSONLinesWriter {
    private var handle: FileHandle
    private let encoder: JSONEncoder
    private let path: String

    public init(path: String) throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw TrainingError(code: "run.metrics", "cannot open \(path) for writing")
        }
        handle.seekToEndOfFile()
        self.handle = handle
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
    }

    public func append<T: Encodable>(_ value: T) throws {
        var data = try encoder.encode(value)
        data.append(0x0A)
        try handle.write(contentsOf: data)
    }

    /// Drops every line whose `step` is above `step`, keeping the file whole at every moment (a
    /// new file renamed over the old), and goes on appending to the new file. Appending through
    /// the handle of the replaced file would write into a file no longer in the directory.
    public func truncate(afterStep step: Int, in directory: RunDirectory) throws {
        try directory.truncateMetrics(after: step)
        try? handle.close()
        guard let reopened = FileHandle(forWritingAtPath: path) else {
            throw TrainingError(code: "run.metrics", "cannot open \(path) for writing")
        }
        reopened.seekToEndOfFile()
        handle = reopened
    }

    public func close() { try? handle.close() }
}

/// One line of `metrics.jsonl`.
public struct StepMetrics: Codable, Sendable {
    public var step: Int
    public var dataEpoch: Int
    public var samples: Int
    /// Mean loss over the step's samples; none when every sample of the step was left out.
    public var loss: Double?
    public var learningRate: Double
    public var workers: Int
    public var generation: UInt64
    /// Wall time of the step at the coordinator, from the leases to the commit.
    public var stepSeconds: Double
    public var samplesPerSecond: Double
    /// Slowest worker's time in each phase.
    public var dataSeconds: Double
    public var computeSeconds: Double
    public var allReduceSeconds: Double
    public var allReduceBytes: UInt64
    public var weightsSha256: String
    /// Replicas that reported exactly `weightsSha256` after the update (all of them, or the step
    /// would not have been committed).
    public var replicasAgreeing: Int
    public var wallSeconds: Double
    /// Present on the steps evaluated on the held-out samples (`training.eval_every`).
    public var validation: ValidationReport?
}

/// `summary.json`: what a script needs to know about a finished run.
public struct RunSummary: Codable, Sendable {
    /// A summary written by this version of Grove.
    ///
    /// - Throws: `TrainingError` `run.summary` naming the file and what in it could not be read.
    public static func read(from path: String) throws -> RunSummary {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TrainingError(code: "run.summary", "cannot read \(path): \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom(SummaryKeys.fromSnakeCase)
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return try decoder.decode(RunSummary.self, from: data)
        } catch {
            throw TrainingError(code: "run.summary", "\(path) is not a summary this version can read: \(error)")
        }
    }

    public var run: String
    public var steps: Int
    public var samples: Int
    /// Mean loss of the first step this invocation ran, and of the last step.
    public var lossFirst: Double
    public var lossLast: Double
    /// SHA-256 of the final parameters as little-endian float32, in the model's layout order.
    public var weightsSha256: String
    public var workersMax: Int
    public var generations: Int
    public var wallSeconds: Double
    public var reduceMode: String
    public var model: String
    public var parameters: Int
    public var datasetHash: String
    public var configHash: String
    public var resumedFromStep: Int?
    /// The checkpoint a run started from (`training.init_from`); absent for a seeded start.
    public var initializedFrom: InitializedFrom?
    public var checkpoint: String?
    public var staleMessages: Int
    /// Workers that left after a preemption notice (not failures), workers declared down, and
    /// steps dealt again because the ring changed while they ran.
    public var drains: Int
    public var failures: Int
    public var redealtSteps: Int
    /// Training samples left out of a step because they could not be read
    /// (`dataset.on_corrupt: quarantine`), catalog ids in the order met.
    public var quarantinedSamples: [String] = []
    /// Workers that were declared down, came back as their old incarnation, were told so and
    /// joined again as new members.
    public var rejoins: Int
    public var goodput: Goodput
    public var validation: ValidationReport?
    /// Members ejected by the coordinator (silent on a lease, a failing ring link, weights that
    /// disagreed with the majority, a failure of their own).
    public var ejections: Int?
    /// Why the run stopped before its end (SIGTERM, a non-finite loss, too few workers); absent
    /// when it completed.
    public var stopped: String?
    /// The step of the weights in `weights_sha256` when it is not `steps` (a stop that could not
    /// fetch the last commit's state).
    public var weightsStep: Int?
    /// How the run's connections were secured (`curve (…)`, `insecure`, `loopback`), as `/status`
    /// says it, and the connections and requests it refused: handshakes with keys not admitted,
    /// messages of revoked keys, status requests without a valid token.
    public var security: String?
    public var refusedConnections: Int?
}

/// Where a run's starting weights came from when `training.init_from` named a checkpoint.
public struct InitializedFrom: Codable, Sendable, Equatable {
    /// The checkpoint directory, as `training.init_from` names it.
    public var checkpoint: String
    /// `fresh` or `checkpoint` (`training.init_optimizer`).
    public var optimizer: String
    /// The run and step of that checkpoint, and its weights' SHA-256: known to the invocation that
    /// loaded it; absent after a resume, which continues from the run's own checkpoints.
    public var run: String?
    public var step: Int?
    public var weightsSha256: String?
}

/// Committed against redone work, from `metrics.jsonl` and `redone.jsonl` (the run's whole
/// history, across resumes), and what a sample cost.
public struct Goodput: Codable, Sendable {
    public var committedSteps: Int
    public var committedMicroBatches: Int
    public var committedSamples: Int
    public var redoneMicroBatches: Int
    public var redoneSamples: Int
    /// Committed samples over committed plus redone samples.
    public var goodput: Double
    /// By cause (`failure`, `drain`, `leave`, `coordinator-restart`); causes with none are absent.
    public var redone: [String: RedoneByCause]
    /// Step results that arrived for an abandoned attempt or generation and were dropped (their
    /// work is part of the redone work of the cause that ended the attempt).
    public var staleResults: Int
    /// CPU time of the coordinator and its local workers during this invocation, and per sample
    /// this invocation committed; workers started by hand elsewhere are not included.
    public var cpuSeconds: Double
    public var cpuSecondsPerSample: Double?
    /// Worker-seconds between commits times `logging.price_per_worker_hour`, per committed
    /// sample; nil with `price` saying why.
    public var costPerSample: Double?
    public var price: String
}

public struct RedoneByCause: Codable, Sendable {
    public var attempts: Int
    public var microBatches: Int
    public var samples: Int
    public var wallSecondsLost: Double
    public var workerSecondsLost: Double
}

/// The model measured on the held-out tiles at the end of a run.
public struct ValidationReport: Codable, Sendable {
    public var tiles: Int
    public var loss: Double
    /// Intersection over union of predicted (p > 0.5) and true canopy, over all held-out pixels.
    public var canopyIou: Double?
    /// Tree detection, counts and areas, for models that find trees (`canopy-net`).
    public var trees: EvaluationReport?
    /// The same measures per held-out manifest (`dataset.validation_manifests`), in order; absent
    /// without them. The fields above pool every split.
    public var splits: [ValidationSplitReport]?
}

/// One held-out manifest's share of a `ValidationReport`.
public struct ValidationSplitReport: Codable, Sendable {
    /// The manifest's name.
    public var name: String
    public var tiles: Int
    public var loss: Double
    public var canopyIou: Double?
    /// IoU of predicting canopy everywhere on the same tiles (their canopy fraction): the score a
    /// model must beat to have learnt anything about these tiles.
    public var allCanopyIou: Double
    public var trees: EvaluationReport?
}
