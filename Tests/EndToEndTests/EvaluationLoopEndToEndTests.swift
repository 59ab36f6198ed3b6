import Foundation
import Testing

/// The held-out evaluation runs beside the coordinator's event loop, not on it: a validation set
/// that takes far longer to score than the members' silence timeout costs no member.
@Suite(.serialized) struct EvaluationLoopEndToEndTests {
    @Test func aLongEvaluationDoesNotSilenceTheCoordinator() throws {
        let dir = Grove.temporaryDirectory("long-evaluation")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Every second tile held out, scored by CanopyNet every 2 steps, against a silence
        // timeout of 0.3 s (0.1 s heartbeats, 3 missed).
        let result = try Grove.run("coordinator", [
            "run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "coordinator.port=0", "--set", "workers.local=2",
            "--set", "training.steps=6", "--set", "training.eval_every=2", "--set", "dataset.validation_every=2",
            "--set", "fault_tolerance.heartbeat_interval=0.1", "--set", "fault_tolerance.missed_heartbeats=3",
            "--set", "logging.status_port=-1", "--set", "checkpoint.interval=0"])
        try #require(result.status == 0, "\(result.output)")
        let summary = try RunFiles(directory: dir).summary
        #expect(summary["failures"] as? Int == 0, "a member went silent while the coordinator evaluated:\n\(result.output)")
        #expect(summary["redealt_steps"] as? Int == 0, "\(result.output)")
        let evaluated = try RunFiles(directory: dir).metrics.filter { $0["validation"] != nil }.compactMap { $0["step"] as? Int }
        #expect(evaluated == [2, 4, 6], "every due evaluation lands on its step's line")
        let timed = result.output.components(separatedBy: "held-out loss").count - 1
        #expect(timed == 3, "\(result.output)")
    }
}
