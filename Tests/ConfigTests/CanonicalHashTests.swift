import Testing
@testable import Config

@Suite struct CanonicalHashTests {
    @Test func hashIsPinnedForTheDefaults() {
        // A change here means every recorded checkpoint hash changes: bump canonicalFormat too.
        #expect(ClusterConfig().canonicalHash == "ddd43b608d09d5e6354e83b5a5eeaeecc0c39377498ba1dc9e5628bada9a0d1d")
        #expect(ClusterConfig().canonicalText.hasPrefix("grove-cluster-config-v1\nrun.name=\"canopy\"\n"))
    }

    @Test func hashIgnoresCommentsOrderAndSpelledOutDefaults() throws {
        let a = try ClusterConfig.parse(yaml: "training:\n  steps: 20\n  seed: 1\n", source: "a")
        let b = try ClusterConfig.parse(
            yaml: "# comment\ntraining:\n  seed: 0x1   # hex\n  steps: 20\nreduce:\n  mode: exact\n", source: "b")
        #expect(a.canonicalHash == b.canonicalHash)
    }

    @Test func hashChangesWithEverySetting() {
        let base = ClusterConfig()
        var seen: Set<String> = [base.canonicalHash]
        for field in ConfigSchema.fields {
            var changed = base
            field.set(&changed, field.get(base).perturbed)
            #expect(field.get(changed) != field.get(base), "could not perturb \(field.path)")
            #expect(seen.insert(changed.canonicalHash).inserted, "\(field.path) does not change the hash")
        }
    }

    @Test func keysAddedLaterEnterTheHashOnlyWhenSet() throws {
        // Runs made before augmentation existed keep the hash their checkpoints recorded.
        #expect(!ClusterConfig().canonicalText.contains("augment"))
        #expect(!ClusterConfig().canonicalText.contains("validation_manifests"))
        for key in ["dataset.source", "dataset.serve_port", "dataset.serve_rate_mib", "reduce.bucket_kib"] {
            #expect(!ClusterConfig().canonicalText.contains(key), "\(key) is in the default canonical text")
        }
        let fetched = try ClusterConfig.parse(yaml: "dataset:\n  source: coordinator\n", source: "d")
        #expect(fetched.canonicalText.contains("dataset.source=\"coordinator\"\n"), "\(fetched.canonicalText)")
        do {
            _ = try ClusterConfig.parse(yaml: "dataset:\n  source: nfs\n", source: "e")
            Issue.record("dataset.source nfs was accepted")
        } catch {
            #expect(error.description.contains("dataset.source") && error.description.contains("nfs"), "\(error.description)")
        }
        let flipped = try ClusterConfig.parse(yaml: "training:\n  augment_flip: true\n", source: "a")
        #expect(flipped.canonicalText.contains("training.augment_flip=true\n"))
        let off = try ClusterConfig.parse(yaml: "training:\n  augment_flip: false\n  augment_contrast: 0.0\n", source: "b")
        #expect(off.canonicalHash == ClusterConfig().canonicalHash)
        // And they are checked like every other key.
        do {
            _ = try ClusterConfig.parse(yaml: "training:\n  augment_brightness: 1.5\n", source: "c")
            Issue.record("a brightness of 1.5 was accepted")
        } catch {
            #expect(error.description.contains("training.augment_brightness") && error.description.contains("1.5"), "\(error.description)")
        }
    }

    @Test func textValuesCannotForgeAnotherKey() {
        var a = ClusterConfig()
        a.run.directory = "x\"\nrun.name=\"y"
        var b = ClusterConfig()
        b.run.directory = "x"
        b.run.name = "y"
        #expect(a.canonicalHash != b.canonicalHash)
    }
}

extension ConfigField.Value {
    /// A different value of the same type.
    var perturbed: ConfigField.Value {
        switch self {
        case let .integer(value): .integer(value + 1)
        case let .unsigned(value): .unsigned(value &+ 1)
        case let .number(value): .number(value + 0.5)
        case let .text(value): .text(value + "x")
        case let .flag(value): .flag(!value)
        }
    }
}
