import Checkpoint
import Foundation
import Testing

/// A coordinator and real worker processes on loopback, training the default model on the
/// vendored aerial tiles.
@Suite(.serialized) struct TrainingEndToEndTests {
    static let common = ["--set", "coordinator.port=0", "--set", "training.steps=20", "--set", "checkpoint.interval=10",
                         "--set", "checkpoint.keep=5", "--set", "logging.level=notice",
                         "--set", "model.name=pixel-mlp"]

    static func train(workers: Int, runDirectory: String, extra: [String] = []) throws -> Grove.Result {
        let result = try Grove.run("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", runDirectory,
                                                   "--set", "workers.local=\(workers)"] + common + extra)
        if result.status != 0 { Issue.record("coordinator exited \(result.status):\n\(result.output)") }
        return result
    }

    static func finalWeights(_ runDirectory: String) throws -> [Float] {
        let store = CheckpointStore(directory: runDirectory + "/checkpoints", keep: 5)
        guard let (checkpoint, _, damaged) = try store.loadNewestVerified(), damaged.isEmpty else {
            throw TestFailure("no clean checkpoint in \(runDirectory)")
        }
        return checkpoint.flatValues(prefix: Checkpoint.parameterPrefix)
    }

    /// Two workers train 20 steps: the loss falls, every step was committed with both replicas
    /// reporting the same weights, and the run directory holds what the README promises.
    @Test func twoWorkersTrainTwentySteps() throws {
        let dir = Grove.temporaryDirectory("two")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Self.train(workers: 2, runDirectory: dir, extra: ["--set", "training.eval_every=10"])
        try #require(result.status == 0)
        let files = RunFiles(directory: dir)
        let summary = try files.summary
        #expect(summary["steps"] as? Int == 20)
        #expect(summary["samples"] as? Int == 320)
        #expect(summary["workers_max"] as? Int == 2)
        let first = try #require(summary["loss_first"] as? Double), last = try #require(summary["loss_last"] as? Double)
        #expect(last < first * 0.9, "loss fell from \(first) to \(last)")
        let metrics = try files.metrics
        #expect(metrics.map { $0["step"] as? Int } == Array(1...20))
        for line in metrics {
            #expect(line["replicas_agreeing"] as? Int == 2, "step \(line["step"] ?? "?"): \(line)")
            #expect((line["weights_sha256"] as? String)?.count == 64)
        }
        #expect(summary["weights_sha256"] as? String == metrics.last?["weights_sha256"] as? String)
        let evaluated = metrics.filter { $0["validation"] != nil }.map { $0["step"] as? Int }
        #expect(evaluated == [10, 20], "held-out evaluation every 10 steps and at the end")
        let finalEvaluation = try #require(metrics.last?["validation"] as? [String: Any])
        #expect((finalEvaluation["canopy_iou"] as? Double).map { (0...1).contains($0) } == true)
        #expect((summary["validation"] as? [String: Any])?["loss"] as? Double == finalEvaluation["loss"] as? Double)
        let weights = try Self.finalWeights(dir)
        var hasher = SHA256Hex()
        #expect(hasher.hex(weights) == summary["weights_sha256"] as? String)
        #expect(FileManager.default.fileExists(atPath: dir + "/config.yaml"))
    }

    /// Training runs on the ring in the other two modes too: fp32, and fp16 with its loss scale
    /// (carried by the checkpoints). The loss falls and both replicas agree on every step.
    @Test(arguments: ["fp32", "fp16"])
    func theOtherReduceModesTrain(mode: String) throws {
        let dir = Grove.temporaryDirectory(mode)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #require(try Self.train(workers: 2, runDirectory: dir, extra: ["--set", "reduce.mode=\(mode)"]).status == 0)
        let files = RunFiles(directory: dir)
        let summary = try files.summary
        #expect(summary["steps"] as? Int == 20)
        let first = try #require(summary["loss_first"] as? Double), last = try #require(summary["loss_last"] as? Double)
        #expect(last < first * 0.9, "\(mode): loss fell from \(first) to \(last)")
        for line in try files.metrics {
            #expect(line["replicas_agreeing"] as? Int == 2, "\(mode) step \(line["step"] ?? "?"): \(line)")
        }
        let store = CheckpointStore(directory: dir + "/checkpoints", keep: 5)
        let (checkpoint, _, _) = try #require(try store.loadNewestVerified())
        let scale = checkpoint.tensors.first { $0.name == "optim/loss_scale" }
        if mode == "fp16" {
            #expect(scale.map { $0.values.count == 2 && $0.values[0] > 0 } == true, "fp16 checkpoints carry the loss scale")
        } else {
            #expect(scale == nil)
        }
    }

    /// The same global batch on one worker gives the same weights (exact reduce: the same bits).
    @Test func oneWorkerMatchesTwoWorkers() throws {
        let one = Grove.temporaryDirectory("one"), two = Grove.temporaryDirectory("two")
        defer { for d in [one, two] { try? FileManager.default.removeItem(atPath: d) } }
        try #require(try Self.train(workers: 1, runDirectory: one).status == 0)
        try #require(try Self.train(workers: 2, runDirectory: two).status == 0)
        let a = try Self.finalWeights(one), b = try Self.finalWeights(two)
        try #require(a.count == b.count)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5, "largest difference \(worst)")
        #expect(try RunFiles(directory: one).summary["weights_sha256"] as? String
                == RunFiles(directory: two).summary["weights_sha256"] as? String)
    }

    /// With every augmentation on, one worker and two still end on the same bits: a tile's
    /// transform is drawn from (seed, sample position, data epoch), never from the worker.
    @Test func oneWorkerMatchesTwoWorkersWithAugmentation() throws {
        let one = Grove.temporaryDirectory("one-aug"), two = Grove.temporaryDirectory("two-aug")
        defer { for d in [one, two] { try? FileManager.default.removeItem(atPath: d) } }
        let augment = ["--set", "training.augment_flip=true", "--set", "training.augment_rotate90=true",
                       "--set", "training.augment_brightness=0.1", "--set", "training.augment_contrast=0.2",
                       "--set", "training.augment_band_gain=0.1"]
        try #require(try Self.train(workers: 1, runDirectory: one, extra: augment).status == 0)
        try #require(try Self.train(workers: 2, runDirectory: two, extra: augment).status == 0)
        let a = try RunFiles(directory: one).summary, b = try RunFiles(directory: two).summary
        #expect(a["weights_sha256"] as? String == b["weights_sha256"] as? String)
        // 20 steps of 16 over 65 tiles is five data epochs, each with other draws; and the
        // augmented run trains on other pixels than the plain one.
        let plain = Grove.temporaryDirectory("plain")
        defer { try? FileManager.default.removeItem(atPath: plain) }
        try #require(try Self.train(workers: 1, runDirectory: plain).status == 0)
        #expect(try RunFiles(directory: plain).summary["weights_sha256"] as? String != a["weights_sha256"] as? String)
    }

    /// Resuming from the step-10 checkpoint ends on the same weights as the uninterrupted run.
    @Test func resumeFromStepTenMatchesTheUninterruptedRun() throws {
        let full = Grove.temporaryDirectory("full")
        defer { try? FileManager.default.removeItem(atPath: full) }
        try #require(try Self.train(workers: 2, runDirectory: full).status == 0)
        let resumed = Grove.temporaryDirectory("resumed")
        defer { try? FileManager.default.removeItem(atPath: resumed) }
        try FileManager.default.removeItem(atPath: resumed)
        try FileManager.default.copyItem(atPath: full, toPath: resumed)
        try FileManager.default.removeItem(atPath: resumed + "/checkpoints/" + CheckpointStore.directoryName(step: 20))
        try FileManager.default.removeItem(atPath: resumed + "/summary.json")
        let result = try Grove.run("coordinator", ["resume", "--run-dir", resumed, "--set", "coordinator.port=0"])
        try #require(result.status == 0, "\(result.output)")
        let summary = try RunFiles(directory: resumed).summary
        #expect(summary["resumed_from_step"] as? Int == 10)
        #expect(summary["steps"] as? Int == 20)
        #expect(summary["weights_sha256"] as? String == (try RunFiles(directory: full).summary["weights_sha256"] as? String))
        #expect(try RunFiles(directory: resumed).metrics.map { $0["step"] as? Int } == Array(1...20))
    }

    /// The quick start run twice: the second finds the run complete, trains nothing and starts no
    /// workers, even when the summary of the first was lost.
    @Test func runningAFinishedRunAgainTrainsNothing() throws {
        let dir = Grove.temporaryDirectory("again")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #require(try Self.train(workers: 1, runDirectory: dir).status == 0)
        let weights = try RunFiles(directory: dir).summary["weights_sha256"] as? String
        let workerLog = try String(contentsOfFile: dir + "/logs/worker-0.log", encoding: .utf8)
        let again = try Self.train(workers: 1, runDirectory: dir)
        #expect(again.status == 0)
        #expect(again.output.contains("already complete at step 20"), "\(again.output)")
        // A started worker would have rewritten its log.
        #expect(try String(contentsOfFile: dir + "/logs/worker-0.log", encoding: .utf8) == workerLog)
        #expect(try RunFiles(directory: dir).summary["weights_sha256"] as? String == weights)

        try FileManager.default.removeItem(atPath: dir + "/summary.json")
        let lost = try Self.train(workers: 1, runDirectory: dir)
        #expect(lost.status == 0, "\(lost.output)")
        let summary = try RunFiles(directory: dir).summary
        #expect(summary["steps"] as? Int == 20 && summary["weights_sha256"] as? String == weights, "\(summary)")
        #expect(try RunFiles(directory: dir).metrics.map { $0["step"] as? Int } == Array(1...20))
    }

    /// `--from-scratch` starts over: nothing of the old run is resumed or left beside the new one.
    @Test func fromScratchLeavesNothingOfTheOldRun() throws {
        let dir = Grove.temporaryDirectory("scratch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #require(try Self.train(workers: 1, runDirectory: dir, extra: ["--set", "logging.timeline=true"]).status == 0)
        let again = try Self.train(workers: 1, runDirectory: dir, extra: ["--from-scratch", "--set", "training.steps=5"])
        try #require(again.status == 0)
        let summary = try RunFiles(directory: dir).summary
        #expect(summary["steps"] as? Int == 5 && summary["resumed_from_step"] == nil, "\(summary)")
        #expect(try RunFiles(directory: dir).metrics.map { $0["step"] as? Int } == Array(1...5))
        let events = try FileManager.default.contentsOfDirectory(atPath: dir + "/tensorboard")
        #expect(events.count == 1, "TensorBoard would overlay two runs: \(events)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/trace.json"), "the old run's timeline is left")
    }

    @Test func resumeWithoutACheckpointRefuses() throws {
        let empty = Grove.temporaryDirectory("empty")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let result = try Grove.run("coordinator", ["resume", "--run-dir", empty])
        #expect(result.status == 1)
        #expect(result.output.contains("no checkpoint"))
    }
}

/// SHA-256 of floats as little-endian bytes, through the Checkpoint module's helper.
struct SHA256Hex {
    mutating func hex(_ values: [Float]) -> String {
        values.withUnsafeBufferPointer { Checkpoint.weightsSHA256($0) }
    }
}
