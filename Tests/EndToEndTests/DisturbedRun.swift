import Foundation
import Testing

/// A coordinator run with local workers in a directory of its own, for the tests that disturb a
/// run — a worker armed with a fault (`GROVE_FAULT_POINT`, `GROVE_FAULT_ACTION`), a signal, a
/// stranger's messages — and then check that it ended where an undisturbed run does.
///
/// `DisturbedRun.with` hands the run to its body and, when the body returns or throws, stops every
/// process it started and removes the directory.
final class DisturbedRun {
    let directory: String
    let coordinator: Grove.Background
    private var workers: [Grove.Background] = []

    private init(label: String, localWorkers: Int, settings: [String]) throws {
        directory = Grove.temporaryDirectory(label)
        do {
            coordinator = try Grove.Background("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", directory,
                                                               "--set", "workers.local=\(localWorkers)"] + settings)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// Starts `coordinator run` with `localWorkers` local workers and `settings`, runs `body`, and
    /// cleans up.
    static func with<T>(_ label: String, localWorkers: Int, settings: [String] = FaultEndToEndTests.settings,
                        _ body: (DisturbedRun) throws -> T) throws -> T {
        let run = try DisturbedRun(label: label, localWorkers: localWorkers, settings: settings)
        defer { run.tearDown() }
        return try body(run)
    }

    private func tearDown() {
        for worker in workers.reversed() { worker.stop() }
        coordinator.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The coordinator's output so far.
    var output: String { coordinator.output }

    /// The endpoint workers join.
    func endpoint() throws -> String { try coordinator.waitFor("coordinator listening on ") }

    /// Waits until the coordinator reports step `step` committed.
    func waitForStep(_ step: Int) throws { _ = try coordinator.waitFor("step \(step)/") }

    /// Waits until `metrics.jsonl` records step `step` (the progress line is printed only now and
    /// then, so slow steps are watched in the run's records instead).
    func waitForRecordedStep(_ step: Int, timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? recordedSteps)?.contains(where: { $0 >= step }) == true { return }
            guard coordinator.process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw TestFailure("step \(step) was not recorded within \(timeout):\n\(output)")
    }

    /// Starts a worker that joins the run; `environment` arms a fault in it.
    func startWorker(environment: [String: String] = [:]) throws -> Grove.Background {
        let worker = try Grove.Background("worker", ["--coordinator", try endpoint()], environment: environment)
        workers.append(worker)
        return worker
    }

    /// Waits for the coordinator to exit; requires that it did within `timeout`, with `status`.
    func waitForEnd(within timeout: Duration = .seconds(120), status: Int32 = 0, pollSeconds: Double = 0.05,
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
        let deadline = ContinuousClock.now + timeout
        while coordinator.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: pollSeconds) }
        try #require(!coordinator.process.isRunning, "the run did not finish:\n\(output)", sourceLocation: sourceLocation)
        try #require(coordinator.process.terminationStatus == status, "\(output)", sourceLocation: sourceLocation)
    }

    var summary: [String: Any] { get throws { try RunFiles(directory: directory).summary } }

    /// The steps of `metrics.jsonl`, in the order they were recorded.
    var recordedSteps: [Int] { get throws { try RunFiles(directory: directory).metrics.compactMap { $0["step"] as? Int } } }

    /// Expects the run to have ended on `expected`, the weights of a run without the disturbance.
    func expectWeights(_ expected: String, _ why: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let found = try summary["weights_sha256"] as? String
        #expect(found == expected, "\(why):\n\(output)", sourceLocation: sourceLocation)
    }
}
