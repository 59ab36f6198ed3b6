import Foundation
import Testing

/// A coordinator told to stop (SIGTERM, SIGINT) checkpoints its last commit, tells its workers,
/// writes its summary and exits 75; `resume` then ends on the uninterrupted run's weights. A run
/// whose loss stops being finite ends with `training.non-finite` naming the step.
@Suite(.serialized) struct StopEndToEndTests {
    static func stopMidRun(with signal: Int32) throws {
        let expected = try FaultEndToEndTests.reference(workers: 2)
        try DisturbedRun.with("stop", localWorkers: 2) { run in
            try run.waitForStep(10)
            let sent = ContinuousClock.now
            kill(run.coordinator.process.processIdentifier, signal)
            try run.waitForEnd(within: .seconds(40), status: 75, pollSeconds: 0.02)
            #expect(sent.duration(to: .now) < .seconds(30), "within fault_tolerance.drain_timeout")
            let summary = try run.summary
            let steps = try #require(summary["steps"] as? Int)
            #expect(steps >= 10 && steps < 40, "\(summary)")
            #expect((summary["stopped"] as? String)?.contains("received") == true, "\(summary)")
            #expect(summary["weights_step"] == nil, "the state of the last commit was held: \(summary)")
            let checkpoint = try #require(summary["checkpoint"] as? String)
            #expect(checkpoint.hasSuffix(String(format: "step-%06d", steps)), "the last commit is checkpointed: \(checkpoint)")
            #expect(FileManager.default.fileExists(atPath: run.directory + "/report.html"))
            // The local workers were told, and left as from a run that will be resumed (exit 75,
            // start again), not as from one that ended.
            let logs = try FileManager.default.contentsOfDirectory(atPath: run.directory + "/logs").filter { $0.hasPrefix("worker-") }
            #expect(logs.count == 2)
            for log in logs {
                let text = try String(contentsOfFile: run.directory + "/logs/" + log, encoding: .utf8)
                #expect(text.contains("the coordinator stopped before the run's end"), "\(log): \(text)")
                #expect(!text.contains("the coordinator ended the run"), "\(log): \(text)")
            }

            let resumed = try Grove.run("coordinator", ["resume", "--run-dir", run.directory])
            try #require(resumed.status == 0, "\(resumed.output)")
            let final = try run.summary
            #expect(final["steps"] as? Int == 40)
            #expect(final["weights_sha256"] as? String == expected, "a stopped and resumed run ends where an uninterrupted one does")
        }
    }

    @Test func sigtermStopsWellAndResumeEndsOnTheSameWeights() throws {
        try Self.stopMidRun(with: SIGTERM)
    }

    @Test func sigintStopsWellToo() throws {
        try Self.stopMidRun(with: SIGINT)
    }

    @Test func aNonFiniteLossStopsTheRunNamingTheStepAfterACheckpoint() throws {
        let dir = Grove.temporaryDirectory("non-finite")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Grove.run("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "workers.local=2",
                                                   "--set", "training.optimizer=sgd", "--set", "training.learning_rate=1000"] + FaultEndToEndTests.settings)
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("training.non-finite"), "\(result.output)")
        #expect(!result.output.contains("EncodingError"), "\(result.output)")
        // The workers are told the run failed, and exit 1: not 75, which would have a supervisor
        // start them again for a run that would fail the same way.
        #expect(result.output.contains("local workers exited with codes [1, 1]"), "\(result.output)")
        let summary = try RunFiles(directory: dir).summary
        let steps = try #require(summary["steps"] as? Int, "\(summary)")
        #expect(result.output.contains("failed at step \(steps + 1)"), "names the step: \(result.output)")
        let checkpoint = try #require(summary["checkpoint"] as? String, "\(summary)")
        #expect(checkpoint.hasSuffix(String(format: "step-%06d", steps)), "the last good commit is checkpointed: \(checkpoint)")
        for line in try RunFiles(directory: dir).metrics {
            if let loss = line["loss"] as? Double { #expect(loss.isFinite) }
        }
    }
}
