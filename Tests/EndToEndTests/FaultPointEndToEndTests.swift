import Foundation
import Testing

/// A worker that dies at a named point of a step (`GROVE_FAULT_POINT`): the run completes, every
/// step is committed once, and with the exact reduce it ends on the weights of a run that never
/// had that worker.
@Suite(.serialized) struct FaultPointEndToEndTests {
    /// Two workers throughout; a third, armed, joins after step 10 and dies at `point` in its first
    /// step.
    static func runWithAnArmedWorker(_ point: String) throws {
        let expected = try FaultEndToEndTests.reference(workers: 2)
        let dir = Grove.temporaryDirectory("fault-point")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let coordinator = try Grove.Background("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir,
                                                               "--set", "workers.local=2"] + FaultEndToEndTests.settings)
        defer { coordinator.stop() }
        let endpoint = try coordinator.waitFor("coordinator listening on ")
        _ = try coordinator.waitFor("step 10/")
        let worker = try Grove.Background("worker", ["--coordinator", endpoint],
                                          environment: ["GROVE_FAULT_POINT": point, "GROVE_FAULT_STEP": "1"])
        defer { worker.stop() }
        let deadline = ContinuousClock.now + .seconds(120)
        while coordinator.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        try #require(!coordinator.process.isRunning, "the run did not finish:\n\(coordinator.output)")
        try #require(coordinator.process.terminationStatus == 0, "\(coordinator.output)")
        while worker.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }

        // The armed worker joined, reached the point and was killed there.
        #expect(worker.output.contains("fault point \(point) reached at step"), "\(worker.output)")
        #expect(worker.process.terminationReason == .uncaughtSignal && worker.process.terminationStatus == SIGKILL)
        let summary = try RunFiles(directory: dir).summary
        #expect(summary["workers_max"] as? Int == 3, "\(coordinator.output)")
        #expect(summary["failures"] as? Int == 1, "\(coordinator.output)")
        let steps = try RunFiles(directory: dir).metrics.compactMap { $0["step"] as? Int }
        #expect(steps == Array(1...40), "every step committed once, in order")
        #expect(summary["weights_sha256"] as? String == expected, "a worker lost mid-step changes nothing")
    }

    @Test func aWorkerKilledMidAllReduce() throws {
        try Self.runWithAnArmedWorker("mid-allreduce")
    }

    @Test func aWorkerKilledMidForward() throws {
        try Self.runWithAnArmedWorker("mid-forward")
    }
}
