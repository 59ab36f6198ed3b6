import Foundation
import Testing

/// Faults that leave a member alive: it hangs on its lease while heartbeating, stops sending to
/// its ring neighbour (a cut link between two workers), or lies about its weights. Each costs only
/// that member — it is ejected and the step dealt again — and with the exact reduce the run ends
/// on the weights of a run that never had it.
@Suite(.serialized) struct GrayFailureEndToEndTests {
    /// A short collective timeout, so that a stalled ring is noticed in seconds.
    static let settings = FaultEndToEndTests.settings.map { $0 == "fault_tolerance.collective_timeout=20" ? "fault_tolerance.collective_timeout=2" : $0 }

    /// Two honest local workers; a third, armed with `action` at `point`, joins after step 10.
    static func runWithAGrayWorker(action: String, point: String) throws -> (summary: [String: Any], output: String, worker: String) {
        let expected = try FaultEndToEndTests.reference(workers: 2, settings: settings)
        let dir = Grove.temporaryDirectory("gray-\(action)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let coordinator = try Grove.Background("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir,
                                                               "--set", "workers.local=2"] + settings)
        defer { coordinator.stop() }
        let endpoint = try coordinator.waitFor("coordinator listening on ")
        _ = try coordinator.waitFor("step 10/")
        let worker = try Grove.Background("worker", ["--coordinator", endpoint], environment: [
            "GROVE_FAULT_POINT": point, "GROVE_FAULT_STEP": "1", "GROVE_FAULT_ACTION": action])
        defer { worker.stop() }
        let deadline = ContinuousClock.now + .seconds(150)
        while coordinator.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        try #require(!coordinator.process.isRunning, "the run did not finish:\n\(coordinator.output)")
        try #require(coordinator.process.terminationStatus == 0, "\(coordinator.output)")
        let summary = try RunFiles(directory: dir).summary
        let steps = try RunFiles(directory: dir).metrics.compactMap { $0["step"] as? Int }
        #expect(steps == Array(1...40), "every step committed once, in order")
        #expect(summary["weights_sha256"] as? String == expected, "the gray member changed the weights:\n\(coordinator.output)")
        #expect((summary["ejections"] as? Int ?? 0) >= 1, "\(coordinator.output)")
        #expect(summary["workers_max"] as? Int == 3, "the armed worker was admitted: \(coordinator.output)")
        return (summary, coordinator.output, worker.output)
    }

    @Test func aMemberSilentOnItsLeaseIsEjected() throws {
        let (_, output, _) = try Self.runWithAGrayWorker(action: "hang", point: "before-lease")
        #expect(output.contains("silent on its lease"), "\(output)")
    }

    @Test func aCutRingLinkEjectsTheMemberBehindIt() throws {
        let (summary, output, worker) = try Self.runWithAGrayWorker(action: "cut-ring", point: "before-lease")
        #expect(output.contains("its ring link failed"), "\(output)")
        // The ejected process joins again after a quarantine, is ejected again, and so on; the
        // honest pair is never blamed.
        #expect(!output.contains("w1 ejected") && !output.contains("w2 ejected"), "\(output)")
        #expect(worker.contains("join again") || worker.contains("joining again"), "\(worker)")
        let redone = (summary["goodput"] as? [String: Any])?["redone"] as? [String: Any]
        #expect(redone?["link-fault"] != nil, "\(summary)")
    }

    @Test func aMemberWhoseWeightsDisagreeIsEjectedAndTheMajorityCommits() throws {
        let (_, output, _) = try Self.runWithAGrayWorker(action: "lie", point: "before-commit")
        #expect(output.contains("disagree with the majority"), "\(output)")
    }
}
