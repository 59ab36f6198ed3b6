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
        return try DisturbedRun.with("gray-\(action)", localWorkers: 2, settings: settings) { run in
            try run.waitForStep(10)
            let worker = try run.startWorker(environment: [
                "GROVE_FAULT_POINT": point, "GROVE_FAULT_STEP": "1", "GROVE_FAULT_ACTION": action])
            try run.waitForEnd(within: .seconds(150))
            let summary = try run.summary
            #expect(try run.recordedSteps == Array(1...40), "every step committed once, in order")
            try run.expectWeights(expected, "the gray member changed the weights")
            #expect((summary["ejections"] as? Int ?? 0) >= 1, "\(run.output)")
            #expect(summary["workers_max"] as? Int == 3, "the armed worker was admitted: \(run.output)")
            return (summary, run.output, worker.output)
        }
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
