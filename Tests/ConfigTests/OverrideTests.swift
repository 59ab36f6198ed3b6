import Testing
@testable import Config

@Suite struct OverrideTests {
    @Test func overridesApplyOverTheFile() throws {
        let config = try ClusterConfig.parse(
            yaml: "training:\n  steps: 5\nreduce:\n  mode: exact\n", source: "t",
            overrides: ["training.steps=20", "reduce.mode=fp32", "run.name=\"2024\"", "training.learning_rate=1e-3"])
        #expect(config.training.steps == 20)
        #expect(config.reduce.mode == "fp32")
        #expect(config.run.name == "2024")
        #expect(config.training.learningRate == 0.001)
    }

    @Test func spacesAroundTheNamesAndValueAreIgnored() throws {
        let config = try ClusterConfig.load(path: nil, overrides: ["training.steps = 20", " reduce.mode= fp16"])
        #expect(config.training.steps == 20)
        #expect(config.reduce.mode == "fp16")
    }

    @Test func lastOverrideOfAKeyWins() throws {
        let config = try ClusterConfig.load(path: nil, overrides: ["training.steps=3", "training.steps=4"])
        #expect(config.training.steps == 4)
    }

    @Test func overrideCanRepairAnOutOfRangeFileValue() throws {
        let config = try ClusterConfig.parse(yaml: "training:\n  micro_batch: 5\n", source: "t",
                                             overrides: ["training.micro_batch=4"])
        #expect(config.training.microBatch == 4)
    }

    @Test func wrongTypeInAnOverrideNamesTheArgument() throws {
        let error = try #require(refusal("", overrides: ["training.steps=many"]))
        #expect(error.kind == .wrongType)
        #expect(error.keyPath == "training.steps")
        #expect(error.origin == .override("training.steps=many"))
        #expect(error.message.hasPrefix("--set training.steps=many: training.steps: expected"))
    }

    @Test func outOfRangeOverrideIsBlamedOnTheOverride() throws {
        let error = try #require(refusal("training:\n  steps: 5\n", overrides: ["training.steps=-1"]))
        #expect(error.kind == .outOfRange)
        #expect(error.origin == .override("training.steps=-1"))
        let mode = try #require(refusal("", overrides: ["reduce.mode=fast"]))
        #expect(mode.kind == .unknownValue)
        #expect(mode.origin == .override("reduce.mode=fast"))
    }

    @Test func unknownKeysAndSectionsInOverrides() throws {
        let key = try #require(refusal("", overrides: ["training.stesp=3"]))
        #expect(key.kind == .unknownKey)
        #expect(key.suggestion == "training.steps")
        let section = try #require(refusal("", overrides: ["trainig.steps=3"]))
        #expect(section.kind == .unknownSection)
        #expect(section.suggestion == "training")
    }

    @Test func malformedOverrides() throws {
        for argument in ["training.steps", "steps=3", "=3"] {
            let error = try #require(refusal("", overrides: [argument]))
            #expect(error.kind == .badOverride, "\(argument)")
            #expect(error.origin == .override(argument))
        }
        let empty = try #require(refusal("", overrides: ["training.steps="]))
        #expect(empty.kind == .wrongType)
        #expect(empty.found == "no value (null)")
        let list = try #require(refusal("", overrides: ["workers.max=[1, 2]"]))
        #expect(list.kind == .wrongType)
        let broken = try #require(refusal("", overrides: ["run.name=\"unclosed"]))
        #expect(broken.kind == .syntax)
        #expect(broken.keyPath == "run.name")
    }
}
