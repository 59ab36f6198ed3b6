import Foundation
import Config
import Coordination
import Core
import Dataset
import Model

/// What the coordinator and every worker build from the same configuration: the model, the
/// training and validation samples in a fixed order, and a hash that proves they agree on them.
public struct RunSetup: Sendable {
    public let config: ClusterConfig
    public let model: any TrainableModel
    public let training: SampleSet
    public let validation: [Tile]
    /// The parts of `validation` reported on their own (one per held-out manifest when
    /// `dataset.validation_manifests` names any; empty otherwise), in order, covering it.
    public let validationSplits: [ValidationSplit]
    /// SHA-256 over the training and validation sample ids in order.
    public let datasetHash: String

    /// - Parameter reader: where the files come from (this machine's paths by default).
    public init(config: ClusterConfig, reader: DatasetReader = .local) throws {
        self.config = config
        let every = config.dataset.validationEvery
        func held(_ index: Int) -> Bool { every > 0 && index % every == every - 1 }
        var hasher = SHA256()
        let bands: Int
        if config.dataset.manifest.isEmpty {
            let tiles = try reader.tiles(config.dataset.path).sorted { $0.id < $1.id }
            guard let first = tiles.first else {
                throw DatasetError(code: "dataset.empty", "\(config.dataset.path) holds no tiles (dataset.path)")
            }
            bands = first.bands
            var training: [Tile] = [], validation: [Tile] = []
            for (index, tile) in tiles.enumerated() {
                if held(index) { validation.append(tile) } else { training.append(tile) }
            }
            self.training = SampleSet.tiles(training).augmented(Self.augmentation(config.training), seed: config.training.seed)
            self.validation = validation
            validationSplits = []
            for tile in training { hasher.update(Array("t:\(tile.id)\n".utf8)) }
            for tile in validation { hasher.update(Array("v:\(tile.id)\n".utf8)) }
        } else {
            let path = config.dataset.manifest
            let manifest = try reader.manifest(path)
            guard !manifest.entries.isEmpty else {
                throw DatasetError(code: "dataset.empty", "manifest \(path) lists no samples (dataset.manifest)")
            }
            let source = reader.samples(ofManifestAt: path)
            var training: [Manifest.Entry] = [], validation: [Manifest.Entry] = []
            // The manifests' own hashes cover their ids and content hashes in order.
            let validationPath = config.dataset.validationManifest
            let extraPaths = config.dataset.validationManifestList
            var splits: [ValidationSplit] = []
            if validationPath.isEmpty && extraPaths.isEmpty {
                for (index, entry) in manifest.entries.enumerated() {
                    if held(index) { validation.append(entry) } else { training.append(entry) }
                }
                hasher.update(Array("manifest:\(manifest.sha256)\nevery:\(every)\n".utf8))
            } else {
                training = manifest.entries
                hasher.update(Array("manifest:\(manifest.sha256)\n".utf8))
                // One line per held-out manifest, so a run with only `validation_manifest` keeps
                // the hash it had before `validation_manifests` existed.
                let named = (validationPath.isEmpty ? [] : [(validationPath, "dataset.validation_manifest")])
                    + extraPaths.map { ($0, "dataset.validation_manifests") }
                for (heldPath, key) in named {
                    let held = try Self.validationManifest(at: heldPath, key: key, trainingManifest: path, training: manifest.entries,
                                                           reader: reader)
                    splits.append(ValidationSplit(name: held.name, manifest: heldPath, range: validation.count..<validation.count + held.entries.count))
                    validation += held.entries
                    hasher.update(Array("validation:\(held.sha256)\n".utf8))
                }
            }
            validationSplits = extraPaths.isEmpty ? [] : splits
            self.training = SampleSet.manifest(training, source: source, quarantineBadSamples: config.dataset.quarantinesCorruptSamples)
                .augmented(Self.augmentation(config.training), seed: config.training.seed)
            let held = SampleSet.manifest(validation, source: source)
            self.validation = try held.load(Array(0..<validation.count))
            bands = try SampleSet.manifest(manifest.entries, source: source).load([0])[0].bands
        }
        datasetHash = hasher.finalize().hexString
        let expected = config.dataset.expectSha256
        guard expected.isEmpty || expected.lowercased() == datasetHash else {
            let source = config.dataset.manifest.isEmpty ? "tile directory \(config.dataset.path)" : "manifest \(config.dataset.manifest)"
            throw DatasetError(code: "dataset.mismatch",
                               "the \(source) here gives dataset hash \(datasetHash), but the run expects \(expected) "
                               + "(dataset.expect_sha256); this machine sees other samples than the coordinator")
        }
        model = try ModelFactory.make(config.model, bands: bands)
    }
}

extension RunSetup {
    /// The run's step plan: which samples each step trains on. The coordinator deals from it, a
    /// worker predicts its next lease with it, the tuner cuts its trial leases with it.
    public func makeStepPlan() -> StepPlan {
        StepPlan(sampleCount: training.count, globalBatch: config.training.globalBatch,
                 microBatch: config.training.microBatch, seed: config.training.seed)
    }

    /// The data epoch of every sample of micro-batches `microBatches` of `step`, in the shape of
    /// their sample lists: what `SampleSet` augments them by. A step may straddle two data
    /// epochs, so it is per sample.
    public func dataEpochs(ofStep step: Step, microBatches: [MicroBatchID]) -> [[Int]] {
        let start = makeStepPlan().streamStart(of: step)
        let micro = config.training.microBatch, count = training.count
        return microBatches.map { id in
            let first = start + Int(id.rawValue) * micro
            return (first..<first + micro).map { $0 / count }
        }
    }

    /// The training-sample augmentation a configuration asks for.
    static func augmentation(_ training: ClusterConfig.Training) -> TileAugmentation {
        TileAugmentation(flip: training.augmentFlip, rotate90: training.augmentRotate90, brightness: Float(training.augmentBrightness),
                         contrast: Float(training.augmentContrast), bandGain: Float(training.augmentBandGain))
    }

    /// The validation manifest at `path`, which must come from the same catalog as the training
    /// manifest and share no sample with it.
    static func validationManifest(at path: String, key: String = "dataset.validation_manifest", trainingManifest: String,
                                   training: [Manifest.Entry], reader: DatasetReader = .local) throws -> Manifest {
        let manifest = try reader.manifest(path)
        guard !manifest.entries.isEmpty else {
            throw DatasetError(code: "dataset.empty", "manifest \(path) lists no samples (\(key))")
        }
        let catalog = Manifest.catalogDirectory(ofManifestAt: path)
        let trainingCatalog = Manifest.catalogDirectory(ofManifestAt: trainingManifest)
        guard standardized(catalog) == standardized(trainingCatalog) else {
            throw DatasetError(code: "dataset.catalogs",
                               "\(key) \(path) is in catalog \(catalog), dataset.manifest \(trainingManifest) in \(trainingCatalog); freeze both in one catalog")
        }
        let trainingIDs = Set(training.map(\.id))
        let shared = manifest.entries.filter { trainingIDs.contains($0.id) }
        if let first = shared.first {
            throw DatasetError(code: "dataset.overlap",
                               "\(shared.count) samples are in both dataset.manifest \(trainingManifest) and \(key) \(path) "
                               + "(first: \(first.id)); a held-out sample must not be trained on")
        }
        return manifest
    }

    private static func standardized(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

/// Builds the model a configuration names.
public enum ModelFactory {
    public static func make(_ settings: ClusterConfig.Model, bands: Int) throws -> any TrainableModel {
        switch settings.name {
        case "pixel-mlp":
            return PixelMLP(bands: bands, hidden: settings.hidden, window: settings.window, pixelsPerTile: settings.pixelsPerTile)
        case "canopy-net":
            let net = CanopyNet.Settings(inputBands: bands, baseWidth: settings.baseWidth, depth: settings.depth, threads: settings.threads)
            try net.validate()
            return CanopyNet(settings: net)
        default:
            throw TrainingError(code: "model.unknown", "model.name '\(settings.name)' is not a model this build knows")
        }
    }
}

/// Failures of a run that are not a bad configuration or a bad sample.
public struct TrainingError: GroveError {
    public var code: String
    public var message: String
    public init(code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}
