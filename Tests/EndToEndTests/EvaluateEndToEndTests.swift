import Foundation
import Testing

/// `coordinator evaluate` scores a CanopyNet checkpoint on a tile directory and writes the JSON.
@Suite struct EvaluateEndToEndTests {
    @Test func evaluatesACheckpointOnTheShippedTiles() throws {
        let dir = Grove.temporaryDirectory("evaluate")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trained = try Grove.run("coordinator", [
            "run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "coordinator.port=0", "--set", "model.name=canopy-net",
            "--set", "model.base_width=2", "--set", "model.depth=1", "--set", "training.steps=2", "--set", "workers.local=1",
            "--set", "dataset.validation_every=0"])
        try #require(trained.status == 0, "\(trained.output)")
        let checkpoint = dir + "/checkpoints/step-000002"
        let output = dir + "/evaluation.json"
        let result = try Grove.run("coordinator", ["evaluate", "--checkpoint", checkpoint, "--data", "data/aerial-sample",
                                                   "--output", output])
        try #require(result.status == 0, "\(result.output)")
        #expect(result.output.contains("81 tiles"))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any])
        #expect(report["tiles"] as? Int == 81)
        #expect(report["true_trees"] as? Int == 424, "the sample's README counts 424 tree instances")
        for key in ["canopy_iou", "precision", "recall", "f1", "count_mean_absolute_error", "relative_canopy_area_error"] {
            #expect(report[key] is Double, "\(key) in \(report)")
        }
    }
}
