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

    /// A held-out manifest (the quick start's layout): the run trains on every entry of one
    /// manifest and validates on every entry of the other; a pair that shares samples is refused.
    @Test func validatesOnASeparateManifestAndRefusesOverlap() throws {
        let root = Grove.temporaryDirectory("validation-manifest")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let catalog = root + "/catalog", run = root + "/run"
        let held = "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM samples WHERE source = 'aerial-sample') WHERE n % 5 = 0"
        for arguments in [["import", "data/aerial-sample"], ["synth", "--count", "24", "--seed", "5"],
                          ["freeze", "--name", "val", "--query", held],
                          ["freeze", "--name", "train", "--query", "bands = 3 AND id NOT IN (\(held))"],
                          ["freeze", "--name", "everything", "--query", "bands = 3"]] {
            let result = try Grove.run("coordinator", ["dataset"] + arguments + ["--catalog", catalog])
            try #require(result.status == 0, "\(arguments): \(result.output)")
        }
        let common = ["--config", "cluster.yaml", "--set", "coordinator.port=0", "--set", "model.name=pixel-mlp",
                      "--set", "training.steps=4", "--set", "training.eval_every=0",
                      "--set", "dataset.validation_manifest=\(catalog)/manifests/val.json"]
        let trained = try Grove.run("coordinator", ["run", "--run-dir", run, "--set", "dataset.manifest=\(catalog)/manifests/train.json"] + common)
        try #require(trained.status == 0, "\(trained.output)")
        let summary = try RunFiles(directory: run).summary
        let validation = try #require(summary["validation"] as? [String: Any], "\(summary)")
        #expect(validation["tiles"] as? Int == 16, "81 real tiles, every fifth held out: \(validation)")

        let overlapping = try Grove.run("coordinator", ["run", "--run-dir", root + "/overlap",
                                                        "--set", "dataset.manifest=\(catalog)/manifests/everything.json"] + common)
        #expect(overlapping.status != 0)
        #expect(overlapping.output.contains("16 samples are in both"), "\(overlapping.output)")
        #expect(overlapping.output.contains("dataset.overlap"), "\(overlapping.output)")
    }

    /// A damaged sample file stops the run naming it (`on_corrupt: fail`, the default), or is left
    /// out of its step and listed in the summary (`on_corrupt: quarantine`).
    @Test func aCorruptSampleFailsTheRunOrIsQuarantined() throws {
        let root = Grove.temporaryDirectory("corrupt-sample")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let catalog = root + "/catalog"
        for arguments in [["synth", "--count", "20", "--seed", "3"], ["freeze", "--name", "rgb", "--query", "SELECT id FROM samples WHERE bands = 3 ORDER BY id LIMIT 10"]] {
            let result = try Grove.run("coordinator", ["dataset"] + arguments + ["--catalog", catalog])
            try #require(result.status == 0, "\(arguments): \(result.output)")
        }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: catalog + "/manifests/rgb.json"))) as! [String: Any]
        let entries = manifest["entries"] as! [[String: Any]]
        try #require(entries.count == 10, "one step of 16 covers the manifest: \(entries.count)")
        let victim = entries[entries.count / 2]
        let path = catalog + "/" + (victim["path"] as! String)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes.removeLast(bytes.count / 3)
        try bytes.write(to: URL(fileURLWithPath: path))

        let common = ["--config", "cluster.yaml", "--set", "coordinator.port=0", "--set", "model.name=pixel-mlp",
                      "--set", "training.steps=2", "--set", "dataset.validation_every=0", "--set", "logging.status_port=-1",
                      "--set", "dataset.manifest=\(catalog)/manifests/rgb.json"]
        let failed = try Grove.run("coordinator", ["run", "--run-dir", root + "/fail"] + common)
        #expect(failed.status != 0)
        #expect(failed.output.contains(victim["path"] as! String), "\(failed.output)")
        #expect(failed.output.contains("sample.truncated"), "\(failed.output)")

        let run = root + "/quarantine"
        let quarantined = try Grove.run("coordinator", ["run", "--run-dir", run, "--set", "dataset.on_corrupt=quarantine"] + common)
        try #require(quarantined.status == 0, "\(quarantined.output)")
        let summary = try RunFiles(directory: run).summary
        let names = try #require(summary["quarantined_samples"] as? [String], "\(summary)")
        #expect(!names.isEmpty && names.allSatisfy { $0 == victim["id"] as? String }, "\(names)")
        #expect(summary["steps"] as? Int == 2)
        #expect(quarantined.output.contains("quarantined"), "\(quarantined.output)")
    }
}

/// The curation loop's score pass writes every sample's loss, newer than any visit.
@Suite struct ScoreEndToEndTests {
    @Test func scoreWritesALossForEverySampleOfTheManifest() throws {
        let dir = Grove.temporaryDirectory("score")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalog = dir + "/catalog"
        for arguments in [["dataset", "import", "data/aerial-sample", "--catalog", catalog],
                          ["dataset", "freeze", "--catalog", catalog, "--name", "train", "--query", "site = 'YELL' AND tile_x <= 640"],
                          ["dataset", "freeze", "--catalog", catalog, "--name", "pool", "--query", "site = 'SJER' OR tile_x >= 768"]] {
            let result = try Grove.run("coordinator", arguments)
            try #require(result.status == 0, "\(result.output)")
        }
        let trained = try Grove.run("coordinator", [
            "run", "--config", "cluster.yaml", "--run-dir", dir + "/run", "--set", "coordinator.port=0", "--set", "model.base_width=2",
            "--set", "model.depth=1", "--set", "training.steps=3", "--set", "workers.local=1", "--set", "dataset.validation_every=0",
            "--set", "dataset.manifest=\(catalog)/manifests/train.json"])
        try #require(trained.status == 0, "\(trained.output)")
        let scored = try Grove.run("coordinator", ["dataset", "score", "--checkpoint", dir + "/run/checkpoints/step-000003",
                                                   "--manifest", "\(catalog)/manifests/pool.json", "--batch", "5"])
        try #require(scored.status == 0, "\(scored.output)")
        // 24 YELL tiles of columns 768-1024 and the 9 SJER tiles; training recorded steps 1-3.
        #expect(scored.output.contains("scored 33 samples of pool"), "\(scored.output)")
        #expect(scored.output.contains("recorded at step 4"), "\(scored.output)")
        let hard = try Grove.run("coordinator", ["dataset", "freeze", "--catalog", catalog, "--name", "hard", "--query",
                                                 "SELECT id FROM samples WHERE last_seen_step = 4 ORDER BY last_loss DESC LIMIT 10"])
        #expect(hard.status == 0 && hard.output.contains("froze hard: 10 samples"), "\(hard.output)")
    }
}
