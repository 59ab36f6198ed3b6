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

    @Test func scoresAManifestPerSiteAndSaysWhichTilesTheTrainingSetSawOrCameNear() throws {
        let dir = Grove.temporaryDirectory("evaluate-manifest")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalog = dir + "/catalog"
        for arguments in [["dataset", "import", "data/aerial-sample", "--catalog", catalog],
                          ["dataset", "freeze", "--catalog", catalog, "--name", "train", "--query", "site = 'YELL' AND tile_x <= 640"],
                          ["dataset", "freeze", "--catalog", catalog, "--name", "held", "--query", "site = 'SJER' OR tile_x >= 768"]] {
            let result = try Grove.run("coordinator", arguments)
            try #require(result.status == 0, "\(result.output)")
        }
        let trained = try Grove.run("coordinator", [
            "run", "--config", "cluster.yaml", "--run-dir", dir + "/run", "--set", "coordinator.port=0", "--set", "model.base_width=2",
            "--set", "model.depth=1", "--set", "training.steps=2", "--set", "workers.local=1",
            "--set", "dataset.manifest=\(catalog)/manifests/train.json",
            "--set", "dataset.validation_manifests=\(catalog)/manifests/held.json"])
        try #require(trained.status == 0, "\(trained.output)")
        // The run's summary reports the held-out manifest under its name, beside all-canopy.
        #expect(trained.output.contains("validation held (33 tiles): loss "), "\(trained.output)")
        #expect(trained.output.contains("(all canopy 0."), "\(trained.output)")
        let output = dir + "/evaluation.json"
        let result = try Grove.run("coordinator", ["evaluate", "--checkpoint", dir + "/run/checkpoints/step-000002",
                                                   "--manifest", "\(catalog)/manifests/held.json", "--output", output])
        try #require(result.status == 0, "\(result.output)")
        // Columns 768, 896 and 1024 of YELL (24 tiles) and SJER (9); the 768 column touches the
        // training tiles at 640, and with the default 128 px margin so does nothing else.
        #expect(result.output.contains("33 tiles"))
        #expect(result.output.contains("8 tiles lie within 128 px of a training tile"), "\(result.output)")
        #expect(result.output.contains("aerial-sample YELL, 24 tiles") && result.output.contains("aerial-sample SJER, 9 tiles"), "\(result.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any])
        let groups = try #require(report["groups"] as? [String: [String: Any]])
        #expect(groups["aerial-sample SJER"]?["tiles"] as? Int == 9)
        #expect((report["pooled"] as? [String: Any])?["tiles"] as? Int == 33)

        // Scored against a training manifest that holds some of them, it says so.
        let overlapping = try Grove.run("coordinator", ["evaluate", "--checkpoint", dir + "/run/checkpoints/step-000002",
                                                        "--manifest", "\(catalog)/manifests/train.json", "--output", output])
        try #require(overlapping.status == 0, "\(overlapping.output)")
        #expect(overlapping.output.contains("48 of these tiles are in the training manifest"), "\(overlapping.output)")
    }
}
