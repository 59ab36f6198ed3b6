import Foundation
import Testing

/// The data path a user takes: import the real tiles, synthesise orchards, freeze one query as a
/// manifest, train on it; a resume on a changed manifest is refused.
@Suite struct DatasetEndToEndTests {
    @Test func trainsFromAFrozenManifestAndRefusesAChangedOne() throws {
        let root = Grove.temporaryDirectory("dataset")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let catalog = root + "/catalog", run = root + "/run"
        for arguments in [["import", "data/aerial-sample"], ["synth", "--count", "40", "--seed", "3"],
                          ["freeze", "--name", "rgb", "--query", "bands = 3"]] {
            let result = try Grove.run("coordinator", ["dataset"] + arguments + ["--catalog", catalog])
            try #require(result.status == 0, "\(arguments): \(result.output)")
        }
        let manifest = catalog + "/manifests/rgb.json"
        let common = ["--config", "cluster.yaml", "--run-dir", run, "--set", "coordinator.port=0", "--set", "model.name=pixel-mlp",
                      "--set", "training.steps=10", "--set", "checkpoint.interval=5", "--set", "dataset.manifest=\(manifest)"]
        let trained = try Grove.run("coordinator", ["run"] + common)
        try #require(trained.status == 0, "\(trained.output)")
        let summary = try RunFiles(directory: run).summary
        #expect(summary["steps"] as? Int == 10)
        let metrics = try RunFiles(directory: run).metrics
        #expect(metrics.allSatisfy { ($0["data_seconds"] as? Double).map { $0 >= 0 } == true })

        // The curation loop: the samples' losses are in the catalog, so a query can pick hard cases.
        let hard = try Grove.run("coordinator", ["dataset", "freeze", "--name", "hard", "--catalog", catalog,
                                                 "--query", "SELECT id FROM samples WHERE last_loss IS NOT NULL ORDER BY last_loss DESC LIMIT 8"])
        #expect(hard.status == 0, "\(hard.output)")
        #expect(hard.output.contains("froze hard: 8 samples"), "\(hard.output)")

        // Pointing the run at another manifest: its checkpoints belong to the first one.
        let other = try Grove.run("coordinator", ["dataset", "freeze", "--name", "synthetic-rgb", "--query", "bands = 3 AND synthetic = 1",
                                                  "--catalog", catalog])
        try #require(other.status == 0, "\(other.output)")
        let resumed = try Grove.run("coordinator", ["run"] + common + ["--set", "training.steps=20",
                                                                       "--set", "dataset.manifest=\(catalog)/manifests/synthetic-rgb.json"])
        #expect(resumed.status == 1)
        #expect(resumed.output.contains("refusing to resume on other data"), "\(resumed.output)")
    }
}
