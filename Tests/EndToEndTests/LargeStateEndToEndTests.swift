import Foundation
import Testing

/// A model whose training state is larger than any control frame may be (512 MiB): a wide
/// `pixel-mlp` of 130.8 M parameters, whose weights and Adam moments make 1.57 GB. A worker joins
/// in the middle of the run and a checkpoint is written after the join: both states stream in
/// chunks from a member's state server and are verified by the hash of the whole state.
@Suite(.serialized) struct LargeStateEndToEndTests {
    /// 40,000 hidden units over a 33x33 window of 3 bands: 40,000 x (3,267 + 2) + 1 parameters.
    static let parameters = 40_000 * (3 * 33 * 33 + 2) + 1
    static let settings = ["--set", "coordinator.port=0", "--set", "model.name=pixel-mlp", "--set", "model.hidden=40000",
                           "--set", "model.window=16", "--set", "model.pixels_per_tile=2", "--set", "model.threads=2",
                           "--set", "dataset.validation_every=0", "--set", "training.steps=8", "--set", "training.global_batch=4",
                           "--set", "training.micro_batch=2", "--set", "training.optimizer=adam", "--set", "training.learning_rate=0.0005",
                           "--set", "reduce.mode=fp32",
                           "--set", "checkpoint.interval=6", "--set", "checkpoint.keep=1", "--set", "logging.level=info",
                           "--set", "fault_tolerance.heartbeat_interval=1", "--set", "fault_tolerance.collective_timeout=60"]

    /// `fetched the state after step S from WHO: BYTES bytes in SECONDS s` in `output`.
    static func transfers(in output: String) -> [(step: Int, bytes: Int, seconds: Double)] {
        output.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "fetched the state after step ") else { return nil }
            let rest = line[range.upperBound...]
            let words = rest.split(separator: " ")
            guard let step = Int(words.first ?? ""), let bytesAt = words.firstIndex(of: "bytes"), bytesAt >= 1,
                  let bytes = Int(words[bytesAt - 1]), bytesAt + 2 < words.count, let seconds = Double(words[bytesAt + 2]) else { return nil }
            return (step, bytes, seconds)
        }
    }

    @Test(.timeLimit(.minutes(10))) func aWorkerJoinsAndACheckpointIsWrittenWithAStateOfOnePointFiveGigabytes() throws {
        try DisturbedRun.with("large-state", localWorkers: 1, settings: Self.settings) { run in
            try run.waitForRecordedStep(2, timeout: .seconds(240))
            let joiner = try run.startWorker()
            _ = try joiner.waitFor("fetched the state after step ", timeout: .seconds(240))
            try run.waitForEnd(within: .seconds(480))

            // The joiner's state came in chunks from a live member or the coordinator, whole.
            let joined = Self.transfers(in: joiner.output)
            let stateBytes = Self.parameters * 3 * 4  // weights, Adam's two moments, fp32
            #expect(joined.count == 1 && joined[0].bytes >= stateBytes && stateBytes >= 1_500_000_000,
                    "one transfer of the whole state (at least \(stateBytes) bytes): \(joined)\n\(joiner.output)")
            #expect(joined.first.map { $0.step >= 2 && $0.step < 8 } == true, "a join in the middle of the run: \(joined)")

            // The checkpoint after the join streamed from a member to the coordinator's writer.
            let fetched = Self.transfers(in: run.output)
            #expect(fetched.contains { $0.step == 6 && $0.bytes >= stateBytes }, "the step-6 checkpoint's state: \(fetched)\n\(run.output)")
            let files = RunFiles(directory: run.directory)
            let summary = try files.summary
            #expect(summary["steps"] as? Int == 8, "\(summary)")
            let checkpoints = try FileManager.default.contentsOfDirectory(atPath: run.directory + "/checkpoints").filter { $0.hasPrefix("step-") }
            #expect(checkpoints == ["step-000008"], "keep = 1 leaves the final checkpoint: \(checkpoints)")
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run.directory + "/checkpoints/step-000008/manifest.json"))) as? [String: Any]
            #expect(manifest?["weights_sha256"] as? String == summary["weights_sha256"] as? String, "the checkpoint holds the run's final weights")

            // Both members trained the steps after the join.
            let records = try files.metrics.filter { ($0["step"] as? Int).map { $0 > joined[0].step } ?? false }
            #expect(!records.isEmpty && records.allSatisfy { ($0["workers"] as? Int) == 2 }, "steps after the join ran on 2 workers: \(records)")
            for transfer in joined + fetched {
                print("large-state: step \(transfer.step) state of \(transfer.bytes) bytes in \(transfer.seconds) s: "
                      + String(format: "%.2f s per GB", transfer.seconds / (Double(transfer.bytes) / 1e9)))
            }
        }
    }
}
