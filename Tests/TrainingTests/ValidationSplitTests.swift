import Config
import Core
import Dataset
import Foundation
import Testing
@testable import Training

/// Held-out manifests reported one by one, and the data epoch of every dealt sample.
@Suite struct ValidationSplitTests {
    static var aerialSample: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/aerial-sample").path
    }

    /// A catalog of the vendored tiles with the quick start's blocked split: training on the YELL
    /// tiles left of a one-column margin, holding out its two right-hand columns and all of SJER.
    static func catalog() throws -> (directory: String, train: String, region: String, site: String) {
        let directory = NSTemporaryDirectory() + "grove-splits-\(UUID().uuidString.prefix(8))"
        let catalog = try Catalog(directory: directory)
        try catalog.import(tileDirectory: aerialSample)
        let train = try catalog.freeze(name: "blocked-train", query: "site = 'YELL' AND tile_x + width <= 896 - 128")
        let region = try catalog.freeze(name: "unseen-region", query: "site = 'YELL' AND tile_x >= 896")
        let site = try catalog.freeze(name: "unseen-site", query: "site = 'SJER'")
        #expect(train.entries.count == 48 && region.entries.count == 16 && site.entries.count == 9)
        let path = { (name: String) in directory + "/manifests/\(name).json" }
        return (directory, path("blocked-train"), path("unseen-region"), path("unseen-site"))
    }

    static func config(train: String, held: String) -> ClusterConfig {
        var config = ClusterConfig()
        config.model.name = "pixel-mlp"
        config.dataset.manifest = train
        config.dataset.validationManifests = held
        return config
    }

    @Test func eachHeldOutManifestIsMeasuredOnItsOwnBesideAllCanopy() throws {
        let c = try Self.catalog()
        let setup = try RunSetup(config: Self.config(train: c.train, held: "\(c.region), \(c.site)"))
        #expect(setup.validationSplits.map(\.name) == ["unseen-region", "unseen-site"])
        #expect(setup.validationSplits.map(\.range) == [0..<16, 16..<25])
        #expect(setup.validation.count == 25 && setup.training.count == 48)
        #expect(setup.validation[16...].allSatisfy { $0.id.hasPrefix("SJER") })

        let replica = Replica(layout: setup.model.layout, parameters: setup.model.initialParameters(seed: 1),
                              optimizer: try makeOptimizer(setup), committedStep: 0)
        let report = try #require(Validation.measure(setup: setup, state: replica))
        let splits = try #require(report.splits)
        #expect(splits.map(\.tiles) == [16, 9])
        for (split, range) in zip(splits, [0..<16, 16..<25]) {
            let tiles = setup.validation[range]
            let canopy = tiles.reduce(0) { $0 + $1.canopy.filter { $0 != 0 }.count }
            #expect(abs(split.allCanopyIou - Double(canopy) / Double(tiles.count * 128 * 128)) < 1e-12)
        }
        // The pooled loss is the tile-weighted mean of the splits' losses.
        let pooled = (splits[0].loss * 16 + splits[1].loss * 9) / 25
        #expect(abs(report.loss - pooled) < 1e-4 * abs(pooled))
        #expect(splits[0].allCanopyIou != splits[1].allCanopyIou)
    }

    @Test func aHeldOutManifestThatSharesTrainingSamplesIsRefusedNamingTheKey() throws {
        let c = try Self.catalog()
        do {
            _ = try RunSetup(config: Self.config(train: c.train, held: "\(c.site),\(c.train)"))
            Issue.record("a held-out manifest equal to the training manifest was accepted")
        } catch let error as DatasetError {
            #expect(error.code == "dataset.overlap")
            #expect(error.message.contains("dataset.validation_manifests") && error.message.contains(c.train), "\(error.message)")
        }
    }

    @Test func theDatasetHashWithOneValidationManifestIsUnchanged() throws {
        let c = try Self.catalog()
        var single = Self.config(train: c.train, held: "")
        single.dataset.validationManifest = c.region
        let setup = try RunSetup(config: single)
        #expect(setup.validationSplits.isEmpty)
        // The form the hash had before validation_manifests existed.
        let train = try Manifest.load(c.train), region = try Manifest.load(c.region)
        #expect(setup.datasetHash == SHA256.hex(Array("manifest:\(train.sha256)\nvalidation:\(region.sha256)\n".utf8)))
        let both = try RunSetup(config: Self.config(train: c.train, held: c.region + "," + c.site))
        #expect(both.datasetHash != setup.datasetHash)
    }

    @Test func dataEpochsFollowTheSampleStreamAcrossAnEpochsEnd() throws {
        var config = RunSetupTests.config()  // 65 training tiles of the tile directory
        config.training.globalBatch = 16
        config.training.microBatch = 4
        let setup = try RunSetup(config: config)
        #expect(setup.training.count == 65)
        // Step 5 covers stream positions 64..<80: position 64 is the last of epoch 0.
        #expect(setup.dataEpochs(ofStep: Step(ordinal: 5), microBatches: [MicroBatchID(0), MicroBatchID(3)]) == [[0, 1, 1, 1], [1, 1, 1, 1]])
        #expect(setup.dataEpochs(ofStep: .first, microBatches: [MicroBatchID(2)]) == [[0, 0, 0, 0]])
        #expect(setup.dataEpochs(ofStep: Step(ordinal: 9), microBatches: [MicroBatchID(1)]) == [[2, 2, 2, 2]])
    }
}
