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
