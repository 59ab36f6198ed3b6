import Foundation
import Testing

/// CanopyNet's backward pass completes the decoder's gradients before the encoder's, so each
/// worker's ring sums them while the encoder's are still being computed (`reduce.bucket_kib`).
/// In `exact` mode that changes no bit: real processes on loopback.
@Suite(.serialized) struct OverlapEndToEndTests {
    static let common = ["--set", "coordinator.port=0", "--set", "training.steps=6", "--set", "checkpoint.interval=0",
                         "--set", "logging.level=notice", "--set", "model.name=canopy-net", "--set", "model.base_width=4",
                         "--set", "model.depth=2", "--set", "training.global_batch=12", "--set", "training.micro_batch=2",
                         "--set", "training.eval_every=0", "--set", "dataset.validation_every=0"]

    static func train(workers: Int, runDirectory: String, extra: [String]) throws -> String? {
        let result = try Grove.run("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", runDirectory,
                                                   "--set", "workers.local=\(workers)"] + common + extra)
        if result.status != 0 { Issue.record("coordinator exited \(result.status):\n\(result.output)") }
        return try RunFiles(directory: runDirectory).summary["weights_sha256"] as? String
    }

    /// One worker (six micro-batches a step, no ring), three workers (two each, the second
    /// overlapped) with buckets as small as a layer, and two workers summing after the backward
    /// pass all end on the same weights.
    @Test func overlappedSumsEndOnTheWeightsOfSerialSumsAndOfOneWorker() throws {
        let dirs = ["one", "three", "serial"].map { Grove.temporaryDirectory("overlap-\($0)") }
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        let one = try Self.train(workers: 1, runDirectory: dirs[0], extra: ["--set", "reduce.bucket_kib=1"])
        let three = try Self.train(workers: 3, runDirectory: dirs[1], extra: ["--set", "reduce.bucket_kib=1"])
        let serial = try Self.train(workers: 2, runDirectory: dirs[2], extra: ["--set", "reduce.bucket_kib=0"])
        #expect(one != nil)
        #expect(one == three)
        #expect(one == serial)
    }
}
