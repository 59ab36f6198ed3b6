import Config
import Dataset
import Testing
@testable import Training

/// What every process builds from the run's configuration, and the pin that makes a worker with
/// other files refuse to train.
@Suite struct RunSetupTests {
    static func config(pin: String = "") -> ClusterConfig {
        var config = ClusterConfig()
        config.model.name = "pixel-mlp"
        config.dataset.expectSha256 = pin
        return config
    }

    @Test func theDatasetHashPinsTheSamples() throws {
        let setup = try RunSetup(config: Self.config())
        #expect(setup.datasetHash.count == 64)
        #expect(setup.training.count + setup.validation.count == 81)
        // The right pin, in either case, is accepted and changes nothing.
        let pinned = try RunSetup(config: Self.config(pin: setup.datasetHash.uppercased()))
        #expect(pinned.datasetHash == setup.datasetHash)

        var other = Self.config(pin: setup.datasetHash)
        other.dataset.validationEvery = 4  // another split: other samples for training
        do {
            _ = try RunSetup(config: other)
            Issue.record("a run on other samples passed the pin")
        } catch let error as DatasetError {
            #expect(error.code == "dataset.mismatch")
            #expect(error.message.contains(setup.datasetHash) && error.message.contains("data/aerial-sample"), "\(error.message)")
        }
    }
}

@Suite struct RunSettingsTests {
    /// A sample budget cuts the run short; the runtimes hand this count to the learning-rate schedule.
    @Test func theSampleBudgetSetsTheStepsTheScheduleSees() throws {
        let config = try ClusterConfig.parse(yaml: """
            training:
              steps: 1000
              samples: 330
              global_batch: 16
              schedule: cosine
              learning_rate: 0.1
              min_learning_rate: 0.001
            """, source: "test")
        let settings = try RunSettings(config)
        #expect(settings.totalSteps == 21, "330 samples in batches of 16 is 21 steps")
        let huge = try ClusterConfig.parse(yaml: "training:\n  samples: 1099511627776\n  global_batch: 1\n  micro_batch: 1\n", source: "test")
        #expect(try RunSettings(huge).totalSteps == huge.training.steps, "the largest budget cuts nothing and does not overflow")
    }

    @Test func durationsThatCannotBeHeldAreRefusedNotTrapped() throws {
        #expect(throws: TrainingError.self) { _ = try RunSettings.seconds(1e300, "fault_tolerance.heartbeat_interval") }
        #expect(throws: TrainingError.self) { _ = try RunSettings.seconds(.nan, "fault_tolerance.heartbeat_interval") }
        #expect(try RunSettings.seconds(0.25, "k") == .milliseconds(250))
    }
}
