import Foundation
import Testing

/// Workers that leave mid-run, cleanly (SIGTERM) or not (SIGKILL): the run completes, and with the
/// exact reduce it ends on the same weights as a run that lost nobody.
@Suite(.serialized) struct FaultEndToEndTests {
    static let settings = ["--set", "coordinator.port=0", "--set", "training.steps=40", "--set", "checkpoint.interval=20",
                           "--set", "model.name=pixel-mlp", "--set", "model.pixels_per_tile=4096", "--set", "logging.level=info",
                           "--set", "fault_tolerance.heartbeat_interval=0.5", "--set", "fault_tolerance.collective_timeout=20"]

    static func reference(workers: Int = 2, settings: [String] = settings) throws -> String {
        let dir = Grove.temporaryDirectory("reference")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Grove.run("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "workers.local=\(workers)"] + settings)
        try #require(result.status == 0, "\(result.output)")
        return try #require(try RunFiles(directory: dir).summary["weights_sha256"] as? String)
    }

    /// Starts three local workers, sends `signal` to one of them once step 10 is committed, and
    /// returns the finished run's summary and the coordinator's output.
    static func runLosingAWorker(to signal: Int32, settings: [String] = settings) throws -> (summary: [String: Any], output: String) {
        let dir = Grove.temporaryDirectory("fault")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let coordinator = try Grove.Background("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir,
                                                               "--set", "workers.local=3"] + settings)
        defer { coordinator.stop() }
        let pid = try #require(Int32(try coordinator.waitFor("(pid ").trimmingCharacters(in: CharacterSet(charactersIn: ")"))),
                               "\(coordinator.output)")
        _ = try coordinator.waitFor("step 10/")
        kill(pid, signal)
        let deadline = ContinuousClock.now + .seconds(120)
        while coordinator.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        try #require(!coordinator.process.isRunning, "the run did not finish:\n\(coordinator.output)")
        try #require(coordinator.process.terminationStatus == 0, "\(coordinator.output)")
        return (try RunFiles(directory: dir).summary, coordinator.output)
    }

    @Test func aDrainedWorkerLeavesCleanlyAndTheRunEndsOnTheSameWeights() throws {
        let expected = try Self.reference()
        let (summary, output) = try Self.runLosingAWorker(to: SIGTERM)
        #expect(summary["steps"] as? Int == 40)
        #expect(summary["drains"] as? Int == 1, "\(output)")
        #expect(summary["failures"] as? Int == 0)
        #expect(summary["workers_max"] as? Int == 3)
        #expect(summary["weights_sha256"] as? String == expected, "3 then 2 workers equal 2 workers throughout")
        #expect(output.contains("exited with codes") && output.contains("75"), "the drained worker exits 75:\n\(output)")
    }

    @Test func aKilledWorkerIsDetectedAndTheRunEndsOnTheSameWeights() throws {
        let expected = try Self.reference()
        let (summary, output) = try Self.runLosingAWorker(to: SIGKILL)
        #expect(summary["steps"] as? Int == 40)
        #expect(summary["failures"] as? Int == 1, "\(output)")
        #expect(summary["weights_sha256"] as? String == expected)
    }

    /// With augmentation on, a tile's transform depends only on (seed, sample, data epoch): the
    /// micro-batches re-dealt after the kill are augmented as they would have been, and 3 then 2
    /// workers still end on the weights of 2 workers throughout.
    @Test func aKilledWorkerWithAugmentationEndsOnTheSameWeights() throws {
        let augmented = Self.settings + ["--set", "training.augment_flip=true", "--set", "training.augment_rotate90=true",
                                         "--set", "training.augment_brightness=0.1", "--set", "training.augment_contrast=0.2",
                                         "--set", "training.augment_band_gain=0.1"]
        let expected = try Self.reference(settings: augmented)
        #expect(expected != (try Self.reference()), "augmentation changed nothing")
        let (summary, output) = try Self.runLosingAWorker(to: SIGKILL, settings: augmented)
        #expect(summary["failures"] as? Int == 1, "\(output)")
        #expect(summary["weights_sha256"] as? String == expected)
    }

    /// A worker started by hand joins a running job at a step boundary with the exact state; the
    /// run ends on the weights of a run that had one worker throughout.
    @Test func aWorkerJoiningMidRunGetsTheExactState() throws {
        let expected = try Self.reference(workers: 1)
        let dir = Grove.temporaryDirectory("join")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let coordinator = try Grove.Background("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir,
                                                               "--set", "workers.local=1"] + Self.settings)
        defer { coordinator.stop() }
        let endpoint = try coordinator.waitFor("coordinator listening on ")
        _ = try coordinator.waitFor("step 10/")
        let worker = try Grove.Background("worker", ["--coordinator", endpoint])
        defer { worker.stop() }
        let deadline = ContinuousClock.now + .seconds(120)
        while coordinator.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        try #require(coordinator.process.terminationStatus == 0, "\(coordinator.output)")
        let summary = try RunFiles(directory: dir).summary
        #expect(summary["workers_max"] as? Int == 2, "\(coordinator.output)")
        #expect(summary["weights_sha256"] as? String == expected)
        let workers = try RunFiles(directory: dir).metrics.map { $0["workers"] as? Int ?? 0 }
        #expect(workers.first == 1 && workers.last == 2, "\(workers)")
        while worker.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(worker.process.terminationStatus == 0, "\(worker.output)")
    }
}
