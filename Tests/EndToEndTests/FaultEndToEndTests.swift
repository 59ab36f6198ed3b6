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
        try DisturbedRun.with("fault", localWorkers: 3, settings: settings) { run in
            let pid = try #require(Int32(try run.coordinator.waitFor("(pid ").trimmingCharacters(in: CharacterSet(charactersIn: ")"))),
                                   "\(run.output)")
            try run.waitForStep(10)
            kill(pid, signal)
            try run.waitForEnd(within: .seconds(120))
            return (try run.summary, run.output)
        }
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

    /// A preemption notice (SIGTERM) that lands mid-backward: the worker finishes its step, waits
    /// for its commit and leaves; the step commits with its share and nothing is computed twice.
    @Test func aWorkerPreemptedMidStepFinishesItAndNoStepIsDealtAgain() throws {
        let expected = try Self.reference()
        try DisturbedRun.with("drain-mid-step", localWorkers: 2) { run in
            try run.waitForStep(10)
            let worker = try run.startWorker(environment: ["GROVE_FAULT_POINT": "mid-backward", "GROVE_FAULT_STEP": "15",
                                                           "GROVE_FAULT_ACTION": "term"])
            try run.waitForEnd()
            let deadline = ContinuousClock.now + .seconds(30)
            while worker.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
            #expect(worker.process.terminationStatus == 75, "\(worker.output)")
            #expect(worker.output.contains("waiting for the commit of step") && worker.output.contains("committed with this worker's share"),
                    "\(worker.output)")
            let summary = try run.summary
            #expect(summary["drains"] as? Int == 1, "\(run.output)")
            #expect(summary["workers_max"] as? Int == 3, "\(run.output)")
            let redone = (summary["goodput"] as? [String: Any])?["redone"] as? [String: Any] ?? [:]
            #expect(redone["drain"] == nil, "the drained worker's step was not dealt again: \(summary)")
            #expect(try run.recordedSteps == Array(1...40))
            try run.expectWeights(expected, "3 then 2 workers equal 2 workers throughout")
        }
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
        try DisturbedRun.with("join", localWorkers: 1, settings: Self.settings) { run in
            try run.waitForStep(10)
            let worker = try run.startWorker()
            let deadline = ContinuousClock.now + .seconds(120)
            try run.waitForEnd(within: .seconds(120))
            let summary = try run.summary
            #expect(summary["workers_max"] as? Int == 2, "\(run.output)")
            try run.expectWeights(expected, "a joiner changed the weights")
            let workers = try RunFiles(directory: run.directory).metrics.map { $0["workers"] as? Int ?? 0 }
            #expect(workers.first == 1 && workers.last == 2, "\(workers)")
            while worker.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
            #expect(worker.process.terminationStatus == 0, "\(worker.output)")
        }
    }
}
