import Foundation
import Testing

/// Recovery from the faults that leave no goodbye: a worker stopped past its timeout that comes
/// back, a coordinator killed at a named point and resumed. Each run must end on the weights of
/// an uninterrupted run (the exact reduce), and the report must account for the work redone.
@Suite(.serialized) struct RecoveryEndToEndTests {
    static let settings = FaultEndToEndTests.settings

    static func pids(in output: String) -> [Int32] {
        output.components(separatedBy: "(pid ").dropFirst().compactMap { Int32($0.prefix { $0.isNumber }) }
    }

    static func waitForExit(_ background: Grove.Background, seconds: Double = 120) throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while background.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        try #require(!background.process.isRunning, "did not finish:\n\(background.output)")
    }

    static func goodput(_ summary: [String: Any]) throws -> [String: Any] {
        try #require(summary["goodput"] as? [String: Any], "summary.json has no goodput: \(summary)")
    }

    /// A worker is killed mid-run: the step it was in is dealt again, and the report says so —
    /// redone work attributed to the failure, committed samples those of the uninterrupted run.
    @Test func goodputAccountsForTheStepRedoneAfterAFailure() throws {
        let expected = try FaultEndToEndTests.reference()
        let dir = Grove.temporaryDirectory("goodput")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let coordinator = try Grove.Background("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir,
                                                               "--set", "workers.local=3"] + Self.settings)
        defer { coordinator.stop() }
        // Training starts once all three are in, so their pids are in the output by step 10.
        _ = try coordinator.waitFor("step 10/")
        let pid = try #require(Self.pids(in: coordinator.output).first)
        kill(pid, SIGKILL)
        try Self.waitForExit(coordinator)
        try #require(coordinator.process.terminationStatus == 0, "\(coordinator.output)")
        let summary = try RunFiles(directory: dir).summary
        #expect(summary["weights_sha256"] as? String == expected)
        let goodput = try Self.goodput(summary)
        #expect(goodput["committed_samples"] as? Int == 40 * 16, "committed work is unchanged by the failure")
        #expect(goodput["committed_steps"] as? Int == 40)
        let redone = try #require(goodput["redone"] as? [String: [String: Any]])
        let failure = try #require(redone["failure"], "no redone work attributed to the failure: \(goodput)")
        #expect((failure["samples"] as? Int ?? 0) >= 16, "the abandoned step is redone whole: \(failure)")
        #expect((failure["micro_batches"] as? Int ?? 0) >= 8)
        #expect((failure["wall_seconds_lost"] as? Double ?? 0) > 0)
        #expect(Set(redone.keys) == ["failure"], "nothing else happened: \(redone.keys)")
        #expect(goodput["redone_samples"] as? Int == failure["samples"] as? Int)
        let fraction = try #require(goodput["goodput"] as? Double)
        #expect(abs(fraction - 640 / Double(640 + (failure["samples"] as? Int ?? 0))) < 1e-9)
        #expect((goodput["cpu_seconds"] as? Double ?? 0) > 0)
        #expect(goodput["price"] as? String == "price not configured")
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains("<td>redone: failure</td>"), "report.html shows the cause")
        #expect(html.contains("price not configured"))
        let lines = try String(contentsOfFile: dir + "/redone.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == failure["attempts"] as? Int)
        #expect(coordinator.output.contains("goodput"), "the closing lines show goodput:\n\(coordinator.output)")
    }

    /// SIGSTOP a worker until it is declared down, then SIGCONT: the coordinator tells it that its
    /// membership is over, it joins again as a new incarnation and is admitted with the exact
    /// state; the run ends on the uninterrupted run's weights.
    @Test func aStoppedWorkerThatComesBackRejoinsAsANewIncarnation() throws {
        let settings = Self.settings.map { $0 == "training.steps=40" ? "training.steps=120" : $0 }
        let expected = try FaultEndToEndTests.reference(settings: settings)
        let dir = Grove.temporaryDirectory("rejoin")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let coordinator = try Grove.Background("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir,
                                                               "--set", "workers.local=3"] + settings)
        defer { coordinator.stop() }
        _ = try coordinator.waitFor("step 10/")
        let pids = Self.pids(in: coordinator.output)
        try #require(pids.count == 3, "\(coordinator.output)")
        let pid = pids[2]  // w3: ids go in joining order
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        _ = try coordinator.waitFor("w3 is down")
        kill(pid, SIGCONT)
        let rejoined = try coordinator.waitFor("is w3 rejoining ", timeout: .seconds(60))
        #expect(rejoined == "as", "\(coordinator.output)")
        try Self.waitForExit(coordinator)
        try #require(coordinator.process.terminationStatus == 0, "\(coordinator.output)")
        let summary = try RunFiles(directory: dir).summary
        #expect(summary["weights_sha256"] as? String == expected)
        #expect(summary["rejoins"] as? Int == 1, "\(coordinator.output)")
        #expect(summary["failures"] as? Int == 1)
        #expect(summary["steps"] as? Int == 120)
        // The same process joined again under a new id and trained: the last steps ran on three workers.
        #expect(coordinator.output.contains("(pid \(pid))"))
        let workers = try RunFiles(directory: dir).metrics.map { $0["workers"] as? Int ?? 0 }
        #expect(workers.last == 3, "\(workers)")
        #expect(workers.contains(2))
    }

    /// The coordinator is killed when every result of step 25 is in and the commit is not sent;
    /// the resumed coordinator redoes steps 21–24 (after the step-20 checkpoint) and ends on the
    /// uninterrupted run's weights; the report counts those four steps as redone by the restart.
    @Test func aCoordinatorKilledBeforeACommitResumesAndCountsTheRedoneSteps() throws {
        let expected = try FaultEndToEndTests.reference()
        let dir = Grove.temporaryDirectory("coordinator-point")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try Grove.Background("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "workers.local=2"]
                                         + Self.settings,
                                         environment: ["GROVE_FAULT_POINT": "coordinator-before-commit", "GROVE_FAULT_STEP": "25"])
        defer { first.stop() }
        try Self.waitForExit(first)
        #expect(first.process.terminationReason == .uncaughtSignal && first.process.terminationStatus == SIGKILL,
                "\(first.output)")
        #expect(first.output.contains("fault point coordinator-before-commit reached at step 25"))
        for pid in Self.pids(in: first.output) { kill(pid, SIGKILL) }
        let committed = try RunFiles(directory: dir).metrics.compactMap { $0["step"] as? Int }
        #expect(committed == Array(1...24), "step 25 was never committed")
        let resumed = try Grove.run("coordinator", ["resume", "--run-dir", dir, "--set", "coordinator.port=0"])
        try #require(resumed.status == 0, "\(resumed.output)")
        let summary = try RunFiles(directory: dir).summary
        #expect(summary["resumed_from_step"] as? Int == 20)
        #expect(summary["weights_sha256"] as? String == expected)
        let goodput = try Self.goodput(summary)
        let redone = try #require(goodput["redone"] as? [String: [String: Any]])
        #expect(redone["coordinator-restart"]?["attempts"] as? Int == 4, "steps 21-24: \(redone)")
        #expect(redone["coordinator-restart"]?["samples"] as? Int == 4 * 16)
        #expect(goodput["committed_samples"] as? Int == 40 * 16)
    }

    /// The coordinator dies inside the background checkpoint writer, tensor files written and no
    /// manifest: the half-written checkpoint is never loaded, the resume starts from the one
    /// before, and the run ends on the uninterrupted run's weights.
    @Test func aCoordinatorKilledMidCheckpointResumesFromTheCheckpointBefore() throws {
        let settings = Self.settings.map { $0 == "checkpoint.interval=20" ? "checkpoint.interval=10" : $0 }
        let expected = try FaultEndToEndTests.reference()
        let dir = Grove.temporaryDirectory("mid-checkpoint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try Grove.Background("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "workers.local=2"]
                                         + settings, environment: ["GROVE_FAULT_POINT": "mid-checkpoint", "GROVE_FAULT_STEP": "25"])
        defer { first.stop() }
        try Self.waitForExit(first)
        #expect(first.process.terminationReason == .uncaughtSignal, "\(first.output)")
        #expect(first.output.contains("fault point mid-checkpoint reached at step 30"), "\(first.output)")
        for pid in Self.pids(in: first.output) { kill(pid, SIGKILL) }
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints")
        #expect(!checkpoints.contains("step-000030"), "the interrupted checkpoint has no step- name: \(checkpoints)")
        #expect(checkpoints.contains { $0.hasPrefix(".tmp-step-000030") }, "its staging directory is left: \(checkpoints)")
        let resumed = try Grove.run("coordinator", ["resume", "--run-dir", dir, "--set", "coordinator.port=0"])
        try #require(resumed.status == 0, "\(resumed.output)")
        let summary = try RunFiles(directory: dir).summary
        #expect(summary["resumed_from_step"] as? Int == 20)
        #expect(summary["weights_sha256"] as? String == expected)
        let after = try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints")
        #expect(!after.contains { $0.hasPrefix(".tmp-") }, "the next write cleans up: \(after)")
    }
}
