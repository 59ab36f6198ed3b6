import Checkpoint
import Foundation
import Testing

/// `training.init_from` with real processes: a new run, on other data, starts from another run's
/// checkpoint; in exact mode one worker and two end on the same bits; what cannot be started
/// from is refused before any training, naming the setting and the path.
@Suite(.serialized) struct InitFromEndToEndTests {
    static func train(workers: Int, runDirectory: String, extra: [String] = []) throws -> Grove.Result {
        try Grove.run("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", runDirectory, "--set", "workers.local=\(workers)",
                                      "--set", "coordinator.port=0", "--set", "training.steps=10", "--set", "checkpoint.interval=10",
                                      "--set", "logging.level=notice", "--set", "model.name=pixel-mlp"] + extra)
    }

    /// A 10-step pilot run; returns its directory and its checkpoint of step 10.
    static func pilot() throws -> (directory: String, checkpoint: String) {
        let dir = Grove.temporaryDirectory("init-pilot")
        let result = try train(workers: 1, runDirectory: dir)
        guard result.status == 0 else { throw TestFailure("pilot exited \(result.status):\n\(result.output)") }
        return (dir, dir + "/checkpoints/" + CheckpointStore.directoryName(step: 10))
    }

    @Test func aNewRunOnOtherDataStartsFromTheCheckpointWithTheSameBitsForAnyWorldSize() throws {
        let (pilot, checkpoint) = try Self.pilot()
        let one = Grove.temporaryDirectory("init-one"), two = Grove.temporaryDirectory("init-two"),
            moments = Grove.temporaryDirectory("init-moments")
        defer { for d in [pilot, one, two, moments] { try? FileManager.default.removeItem(atPath: d) } }
        // Another split of the tiles: other training samples, a dataset hash a resume would refuse.
        let next = ["--set", "dataset.validation_every=4", "--set", "training.init_from=\(checkpoint)"]
        let fresh = next + ["--set", "training.init_optimizer=fresh"]
        let a = try Self.train(workers: 1, runDirectory: one, extra: fresh)
        try #require(a.status == 0, "\(a.output)")
        let b = try Self.train(workers: 2, runDirectory: two, extra: fresh)
        try #require(b.status == 0, "\(b.output)")
        let pilotSummary = try RunFiles(directory: pilot).summary
        let summaryOne = try RunFiles(directory: one).summary, summaryTwo = try RunFiles(directory: two).summary
        #expect(summaryOne["dataset_hash"] as? String != pilotSummary["dataset_hash"] as? String)
        #expect(summaryOne["weights_sha256"] as? String == summaryTwo["weights_sha256"] as? String)
        #expect(summaryOne["weights_sha256"] as? String != pilotSummary["weights_sha256"] as? String)
        let initial = try #require(summaryOne["initialized_from"] as? [String: Any])
        #expect(initial["checkpoint"] as? String == checkpoint)
        #expect(initial["optimizer"] as? String == "fresh")
        #expect(initial["step"] as? Int == 10)
        #expect(initial["weights_sha256"] as? String == pilotSummary["weights_sha256"] as? String)
        #expect(a.output.contains("starting from the weights of checkpoint \(checkpoint)"), "\(a.output)")
        #expect(a.output.contains("started from checkpoint \(checkpoint)"), "the printed summary says so: \(a.output)")
        // It trained on from where the pilot stopped, not from a new initialisation.
        let pilotFirst = try #require(pilotSummary["loss_first"] as? Double), pilotLast = try #require(pilotSummary["loss_last"] as? Double)
        let first = try #require(summaryOne["loss_first"] as? Double)
        #expect(first < pilotFirst - 0.5 * (pilotFirst - pilotLast), "first loss \(first); the pilot went \(pilotFirst) -> \(pilotLast)")
        // The checkpoint's optimizer state is another start.
        let c = try Self.train(workers: 2, runDirectory: moments, extra: next + ["--set", "training.init_optimizer=checkpoint"])
        try #require(c.status == 0, "\(c.output)")
        let summaryMoments = try RunFiles(directory: moments).summary
        #expect((summaryMoments["initialized_from"] as? [String: Any])?["optimizer"] as? String == "checkpoint")
        #expect(summaryMoments["weights_sha256"] as? String != summaryOne["weights_sha256"] as? String)
    }

    @Test func whatCannotBeStartedFromIsRefusedByName() throws {
        let (pilot, checkpoint) = try Self.pilot()
        let dir = Grove.temporaryDirectory("init-refused")
        defer { for d in [pilot, dir] { try? FileManager.default.removeItem(atPath: d) } }
        let missing = pilot + "/checkpoints/step-000099"
        let cases: [(extra: [String], code: String, names: String)] = [
            (["--set", "training.init_from=\(missing)"], "init_from.missing", missing),
            (["--set", "training.init_from=\(checkpoint)", "--set", "model.hidden=48"], "init_from.model", checkpoint),
            (["--set", "training.init_from=\(checkpoint)", "--set", "training.optimizer=momentum",
              "--set", "training.init_optimizer=checkpoint"], "init_from.optimizer", checkpoint),
        ]
        for (extra, code, path) in cases {
            let result = try Self.train(workers: 1, runDirectory: dir, extra: extra + (extra.contains { $0.hasPrefix("training.init_optimizer") }
                                                                                          ? [] : ["--set", "training.init_optimizer=fresh"]))
            #expect(result.status == 1, "\(code): \(result.output)")
            #expect(result.output.contains("[\(code)]") && result.output.contains("training.init_from '\(path)'"), "\(result.output)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/summary.json"))
        }
        // A damaged checkpoint (one flipped byte in its weights) is reported, never loaded.
        let weights = checkpoint + "/" + CheckpointStore.weightsFile
        var bytes = try Data(contentsOf: URL(fileURLWithPath: weights))
        bytes[bytes.count - 5] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: weights))
        let damaged = try Self.train(workers: 1, runDirectory: dir, extra: ["--set", "training.init_from=\(checkpoint)",
                                                                            "--set", "training.init_optimizer=fresh"])
        #expect(damaged.status == 1)
        #expect(damaged.output.contains("[init_from.damaged]") && damaged.output.contains("checksum"), "\(damaged.output)")
        // And the optimizer choice is never left implicit.
        let implicit = try Self.train(workers: 1, runDirectory: dir, extra: ["--set", "training.init_from=\(checkpoint)"])
        #expect(implicit.status == 2)
        #expect(implicit.output.contains("training.init_from") && implicit.output.contains("init_optimizer"), "\(implicit.output)")
    }
}
