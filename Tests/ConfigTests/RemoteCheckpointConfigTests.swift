import Testing
@testable import Config

/// `checkpoint.remote` is checked with the object store's own parser, at load time.
@Suite struct RemoteCheckpointConfigTests {
    @Test func aLocationIsAccepted() throws {
        let config = try ClusterConfig.parse(yaml: "checkpoint:\n  remote: s3://grove-runs/canopy/a\n  remote_part_mib: 64\n",
                                             source: "cluster.yaml", overrides: [])
        #expect(config.checkpoint.remote == "s3://grove-runs/canopy/a")
        #expect(config.checkpoint.remotePartMiB == 64)
        #expect(ClusterConfig().checkpoint.remote.isEmpty, "off by default")
    }

    @Test func aMalformedLocationNamesTheLineTheValueAndThePart() throws {
        let error = try #require(refusal("run:\n  name: r\ncheckpoint:\n  remote: s3://Grove_Runs/canopy\n"))
        #expect(error.kind == .outOfRange)
        #expect(error.keyPath == "checkpoint.remote")
        #expect(error.origin.line == 4)
        #expect(error.description.hasPrefix("cluster.yaml line 4: checkpoint.remote: expected empty or s3://BUCKET/PREFIX, "
                                            + "found \"s3://Grove_Runs/canopy\" (the bucket name \"Grove_Runs\" may only hold"))
    }

    @Test(arguments: ["checkpoint.remote=/mnt/checkpoints", "checkpoint.remote=s3://x", "checkpoint.remote=s3://runs/a//b",
                      "checkpoint.remote_part_mib=4"])
    func refusedOverrides(_ override: String) throws {
        let error = try #require(refusal("", overrides: [override]))
        #expect(error.kind == .outOfRange)
        #expect(error.origin == .override(override))
    }

    @Test func theLocationEntersTheHashOnlyWhenSet() throws {
        let plain = ClusterConfig()
        var remote = plain
        remote.checkpoint.remote = "s3://grove-runs/a"
        #expect(!plain.canonicalText.contains("checkpoint.remote"), "runs without it keep their hash")
        #expect(remote.canonicalText.contains("checkpoint.remote=\"s3://grove-runs/a\""))
    }

    @Test func datasetSourceTakesAChoiceOrALocation() throws {
        for value in ["auto", "local", "coordinator", "s3://grove-data/tiles"] {
            let config = try ClusterConfig.parse(yaml: "", source: "cluster.yaml", overrides: ["dataset.source=\(value)"])
            #expect(config.dataset.source == value)
        }
        let typo = try #require(refusal("", overrides: ["dataset.source=coordinatr"]))
        #expect(typo.kind == .unknownValue)
        #expect(typo.suggestion == "coordinator")
        #expect(typo.expected == "one of auto, local, coordinator, or s3://BUCKET/PREFIX")
        let bad = try #require(refusal("", overrides: ["dataset.source=s3://x/tiles"]))
        #expect(bad.kind == .outOfRange)
        #expect(bad.found.contains("must have 3 to 63 characters"), "\(bad.found)")
    }
}
