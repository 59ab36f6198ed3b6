import Testing
@testable import Config

/// Parses `yaml` expecting a refusal, and returns it.
func refusal(_ yaml: String, overrides: [String] = []) -> ConfigError? {
    do {
        _ = try ClusterConfig.parse(yaml: yaml, source: "cluster.yaml", overrides: overrides)
        return nil
    } catch {
        return error
    }
}

@Suite struct ConfigErrorTests {
    @Test func stringWhereAnIntegerIsExpected() throws {
        let error = try #require(refusal("training:\n  steps: 10\n  global_batch: sixteen\n"))
        #expect(error.kind == .wrongType)
        #expect(error.keyPath == "training.global_batch")
        #expect(error.origin.line == 3)
        #expect(error.expected.contains("integer"))
        #expect(error.found == "\"sixteen\" (a string)")
        #expect(error.description == "cluster.yaml line 3: training.global_batch: expected an integer in 1...1048576, "
            + "found \"sixteen\" (a string) [config.wrong-type]")
    }

    @Test func floatWhereAnIntegerIsExpected() throws {
        let error = try #require(refusal("checkpoint:\n  keep: 2.5\n"))
        #expect(error.kind == .wrongType)
        #expect(error.keyPath == "checkpoint.keep")
        #expect(error.origin.line == 2)
        #expect(error.found == "2.5 (a float)")
    }

    @Test func quotedNumberIsAString() throws {
        let error = try #require(refusal("training:\n  steps: \"20\"\n"))
        #expect(error.kind == .wrongType)
        #expect(error.found == "\"20\" (a string)")
    }

    @Test func integerIsAcceptedWhereANumberIsExpected() throws {
        let config = try ClusterConfig.parse(yaml: "fault_tolerance:\n  heartbeat_interval: 2\n", source: "t")
        #expect(config.faultTolerance.heartbeatInterval == 2.0)
    }

    @Test func booleanOrNullWhereAStringIsExpected() throws {
        let boolean = try #require(refusal("run:\n  name: no\n"))
        #expect(boolean.kind == .wrongType)
        #expect(boolean.found == "no (a boolean)")
        let null = try #require(refusal("run:\n\n  directory:\n"))
        #expect(null.kind == .wrongType)
        #expect(null.keyPath == "run.directory")
        #expect(null.origin.line == 3)
        #expect(null.found == "no value (null)")
    }

    @Test func listOrMappingWhereAScalarIsExpected() throws {
        let list = try #require(refusal("workers:\n  max: [1, 2]\n"))
        #expect(list.kind == .wrongType)
        #expect(list.found == "a list")
        let mapping = try #require(refusal("workers:\n  max:\n    a: 1\n"))
        #expect(mapping.found == "a mapping")
    }

    @Test func unknownKeySuggestsTheNearest() throws {
        let error = try #require(refusal("training:\n  steps: 5\n  global_bach: 8\n"))
        #expect(error.kind == .unknownKey)
        #expect(error.keyPath == "training.global_bach")
        #expect(error.origin.line == 3)
        #expect(error.suggestion == "training.global_batch")
        #expect(error.message.hasSuffix("did you mean `training.global_batch`?"))
    }

    @Test func camelCaseKeyFindsItsSnakeCaseSpelling() throws {
        let error = try #require(refusal("reduce:\n  chunkKiB: 8\n"))
        #expect(error.suggestion == "reduce.chunk_kib")
    }

    @Test func keyInTheWrongSectionIsPointedToItsSection() throws {
        let error = try #require(refusal("run:\n  seed: 3\n"))
        #expect(error.kind == .unknownKey)
        #expect(error.suggestion == "training.seed")
    }

    @Test func unknownSectionSuggestsTheNearest() throws {
        let error = try #require(refusal("run:\n  name: a\ntrainng:\n  steps: 3\n"))
        #expect(error.kind == .unknownSection)
        #expect(error.keyPath == "trainng")
        #expect(error.origin.line == 3)
        #expect(error.suggestion == "training")
        #expect(error.found == "\"trainng\"")
    }

    @Test func negativeStepsAreOutOfRange() throws {
        let error = try #require(refusal("training:\n  steps: -3\n"))
        #expect(error.kind == .outOfRange)
        #expect(error.keyPath == "training.steps")
        #expect(error.origin.line == 2)
        #expect(error.expected == "an integer in 1...1000000000")
        #expect(error.found == "-3")
    }

    @Test func portOutsideTheTCPRange() throws {
        let error = try #require(refusal("coordinator:\n  port: 70000\n"))
        #expect(error.kind == .outOfRange)
        #expect(error.keyPath == "coordinator.port")
        #expect(error.expected == "an integer in 0...65535")
        #expect(error.origin.line == 2)
    }

    @Test(arguments: ["0.0.0.0", "\"::\"", "\"*\"", "tcp://0.0.0.0:7070", "tcp://trainer.example", "tcp://trainer.example:0", "two words", "http://h:1"])
    func anAdvertisedAddressPeersCannotDialIsRefused(_ value: String) throws {
        let error = try #require(refusal("coordinator:\n  advertise: \(value)\n"), "\(value)")
        #expect(error.kind == .outOfRange)
        #expect(error.keyPath == "coordinator.advertise")
        #expect(error.expected.contains("not 0.0.0.0 or ::"))
    }

    @Test(arguments: ["\"\"", "trainer.example", "10.1.2.3", "\"fd00::7\"", "tcp://203.0.113.9:17070", "tcp://[fd00::7]:7070"])
    func advertisedAddressesPeersCanDialAreAccepted(_ value: String) throws {
        #expect(refusal("coordinator:\n  advertise: \(value)\n") == nil, "\(value)")
    }

    @Test func integerTooLargeForItsTypeIsOutOfRange() throws {
        let error = try #require(refusal("training:\n  steps: 99999999999999999999999\n"))
        #expect(error.kind == .outOfRange)
        let negativeSeed = try #require(refusal("training:\n  seed: -1\n"))
        #expect(negativeSeed.kind == .outOfRange)
        #expect(negativeSeed.keyPath == "training.seed")
    }

    @Test func numbersOutsideTheirIntervals() throws {
        let momentum = try #require(refusal("training:\n  momentum: 1.0\n"))
        #expect(momentum.kind == .outOfRange)
        #expect(momentum.expected == "a number in [0.0, 1.0)")
        let rate = try #require(refusal("training:\n  learning_rate: 0\n"))
        #expect(rate.expected == "a number in (0.0, 1000.0]")
        let infinite = try #require(refusal("fault_tolerance:\n  collective_timeout: .inf\n"))
        #expect(infinite.kind == .outOfRange)
    }

    @Test func unknownEnumValuesNameTheChoices() throws {
        let mode = try #require(refusal("reduce:\n  mode: fast\n"))
        #expect(mode.kind == .unknownValue)
        #expect(mode.keyPath == "reduce.mode")
        #expect(mode.origin.line == 2)
        #expect(mode.expected == "one of exact, fp32, fp16")
        #expect(mode.found == "\"fast\"")
        let optimizer = try #require(refusal("training:\n  optimizer: adamm\n"))
        #expect(optimizer.keyPath == "training.optimizer")
        #expect(optimizer.suggestion == "adam")
        let level = try #require(refusal("logging:\n  level: verbose\n"))
        #expect(level.keyPath == "logging.level")
        let model = try #require(refusal("model:\n  name: resnet\n"))
        #expect(model.keyPath == "model.name")
        #expect(model.kind == .unknownValue)
    }

    @Test func microBatchMustDivideGlobalBatch() throws {
        let error = try #require(refusal("training:\n  global_batch: 16\n  micro_batch: 5\n"))
        #expect(error.kind == .inconsistent)
        #expect(error.keyPath == "training.micro_batch")
        #expect(error.origin.line == 3)
        #expect(error.expected == "a divisor of training.global_batch (16)")
        #expect(error.found == "5")
    }

    @Test func workersMinAboveMax() throws {
        let error = try #require(refusal("workers:\n  local: 2\n  min: 8\n  max: 4\n"))
        #expect(error.kind == .inconsistent)
        #expect(error.keyPath == "workers.min")
        #expect(error.origin.line == 3)
    }

    @Test func ruleBlamesTheKeyThatWasWritten() throws {
        let error = try #require(refusal("run:\n  name: a\ntraining:\n  global_batch: 9\n"))
        #expect(error.keyPath == "training.global_batch")
        #expect(error.origin.line == 4)
        #expect(error.expected == "a multiple of training.micro_batch (2)")
        let workers = try #require(refusal("workers:\n  max: 0\n"))
        #expect(workers.kind == .outOfRange)
        let fewer = try #require(refusal("workers:\n  min: 1\n  max: 1\n"))
        #expect(fewer.keyPath == "workers.max")
        #expect(fewer.expected == "at least workers.local (2)")
        #expect(fewer.origin.line == 3)
    }

    @Test func ruleBrokenInCodeSaysDefaultValue() throws {
        var config = ClusterConfig()
        config.training.globalBatch = 9
        #expect(throws: ConfigError(.inconsistent, keyPath: "training.micro_batch", origin: .defaults,
                                    expected: "a divisor of training.global_batch (9)", found: "2")) {
            try config.validate()
        }
    }

    @Test func cosineFloorAboveThePeak() throws {
        let error = try #require(refusal("training:\n  schedule: cosine\n  min_learning_rate: 0.5\n"))
        #expect(error.kind == .inconsistent)
        #expect(error.keyPath == "training.min_learning_rate")
        #expect(error.origin.line == 3)
        #expect(try ClusterConfig.parse(yaml: "training:\n  min_learning_rate: 0.5\n", source: "t")
            .training.minLearningRate == 0.5)
    }

    @Test func sampleBudgetBelowOneBatch() throws {
        let error = try #require(refusal("training:\n  samples: 8\n"))
        #expect(error.keyPath == "training.samples")
        #expect(error.origin.line == 2)
    }

    @Test func syntaxErrorHasItsLine() throws {
        let error = try #require(refusal("run:\n  name: a\n  directory: [unclosed\ntraining:\n  steps: 2\n"))
        #expect(error.kind == .syntax)
        #expect(error.origin.line == 4)
        #expect(error.found.contains("started at line 3"))
        let tab = try #require(refusal("run:\n\tname: a\n"))
        #expect(tab.kind == .syntax)
        #expect(tab.origin.line == 2)
    }

    @Test func duplicateKeyNamesPathAndBothLines() throws {
        let error = try #require(refusal("run:\n  name: a\ntraining:\n  steps: 2\n  seed: 4\n  steps: 3\n"))
        #expect(error.kind == .duplicateKey)
        #expect(error.keyPath == "training.steps")
        #expect(error.origin.line == 6)
        #expect(error.found.contains("first at line 4"))
    }

    @Test func duplicateSection() throws {
        let error = try #require(refusal("training:\n  steps: 2\nrun:\n  name: a\ntraining:\n  seed: 3\n"))
        #expect(error.kind == .duplicateKey)
        #expect(error.keyPath == "training")
        #expect(error.origin.line == 5)
    }

    @Test func topLevelMustBeAMapping() throws {
        let list = try #require(refusal("- training\n- run\n"))
        #expect(list.kind == .notMapping)
        #expect(list.origin.line == 1)
        let scalar = try #require(refusal("just text\n"))
        #expect(scalar.kind == .notMapping)
        let section = try #require(refusal("run:\n  name: a\ntraining: 5\n"))
        #expect(section.kind == .notMapping)
        #expect(section.keyPath == "training")
        #expect(section.origin.line == 3)
    }

    @Test func unreadableFileNamesIt() throws {
        do {
            _ = try ClusterConfig.load(path: "no-such-dir/cluster.yaml", overrides: [])
            Issue.record("loading a missing file succeeded")
        } catch {
            #expect(error.kind == .unreadable)
            #expect(error.message.hasPrefix("no-such-dir/cluster.yaml"))
        }
    }

    @Test func validateChecksConfigsBuiltInCode() throws {
        var config = ClusterConfig()
        #expect(throws: Never.self) { try config.validate() }
        config.reduce.chunkKiB = 0
        #expect(throws: ConfigError.self) { try config.validate() }
    }

    @Test func exitCodeAndCodesAreStable() {
        #expect(ConfigError.exitCode == 2)
        let error = ConfigError(.unknownKey, keyPath: "a.b", origin: .override("a.b=1"), expected: "x", found: "y")
        #expect(error.code == "config.unknown-key")
        #expect(error.description == "--set a.b=1: a.b: expected x, found y [config.unknown-key]")
    }
}
