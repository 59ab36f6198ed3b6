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
        try DisturbedRun.with("fault-point", localWorkers: 2) { run in
            try run.waitForStep(10)
            let worker = try run.startWorker(environment: ["GROVE_FAULT_POINT": point, "GROVE_FAULT_STEP": "1"])
            let deadline = ContinuousClock.now + .seconds(120)
            try run.waitForEnd(within: .seconds(120))
            while worker.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }

            // The armed worker joined, reached the point and was killed there.
            #expect(worker.output.contains("fault point \(point) reached at step"), "\(worker.output)")
            #expect(worker.process.terminationReason == .uncaughtSignal && worker.process.terminationStatus == SIGKILL)
            let summary = try run.summary
            #expect(summary["workers_max"] as? Int == 3, "\(run.output)")
            #expect(summary["failures"] as? Int == 1, "\(run.output)")
            #expect(try run.recordedSteps == Array(1...40), "every step committed once, in order")
            try run.expectWeights(expected, "a worker lost mid-step changes nothing")
        }
    }

    @Test func aWorkerKilledMidAllReduce() throws {
        try Self.runWithAnArmedWorker("mid-allreduce")
    }

    @Test func aWorkerKilledMidForward() throws {
        try Self.runWithAnArmedWorker("mid-forward")
    }
}
