import Foundation

/// Where a run stood when a checkpoint was taken: everything `resume` needs besides the tensors.
///
/// The ledger fields are what make a resumed run take the same path as an uninterrupted one: the
/// data epoch and the number of samples of that epoch already applied say exactly which sample
/// comes next.
public struct CheckpointMetadata: Sendable, Equatable {
    /// The run's name, from `cluster.yaml`.
    public var runName: String
    /// The last committed step included in this checkpoint.
    public var step: Int
    /// The data epoch (pass over the dataset manifest) in progress, from 0.
    public var dataEpoch: Int
    /// Samples of the current data epoch already applied (the ledger position).
    public var ledgerPosition: Int
    /// The run's seed (initialisation, data order, sampling).
    public var seed: UInt64
    /// The hash of the frozen dataset manifest the run trains on.
    public var datasetManifestHash: String
    /// The hash of the configuration that shapes the result (model, optimizer, batch).
    public var configurationHash: String
    /// When the snapshot was taken, in whole seconds (the manifest stores whole seconds, so the
    /// value is truncated here and survives a round trip unchanged).
    public var createdAt: Date {
        didSet { createdAt = Self.wholeSeconds(createdAt) }
    }
    /// Free-form extra facts a caller wants kept with the checkpoint (a loss, a generation).
    public var extra: [String: String]

    public init(
        runName: String, step: Int, dataEpoch: Int, ledgerPosition: Int, seed: UInt64,
        datasetManifestHash: String, configurationHash: String, createdAt: Date = Date(),
        extra: [String: String] = [:]
    ) {
        self.runName = runName
        self.step = step
        self.dataEpoch = dataEpoch
        self.ledgerPosition = ledgerPosition
        self.seed = seed
        self.datasetManifestHash = datasetManifestHash
        self.configurationHash = configurationHash
        self.createdAt = Self.wholeSeconds(createdAt)
        self.extra = extra
    }

    static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    /// The ledger fields as safetensors metadata. The weights file carries them so that they are
    /// covered by that file's checksum: a manifest edited by hand, or damaged in a way JSON still
    /// parses, disagrees with them and is refused.
    var safetensorsMetadata: [String: String] {
        [
            "grove.run_name": runName,
            "grove.step": String(step),
            "grove.data_epoch": String(dataEpoch),
            "grove.ledger_position": String(ledgerPosition),
            "grove.seed": String(seed),
            "grove.dataset_manifest_hash": datasetManifestHash,
            "grove.configuration_hash": configurationHash,
        ]
    }
}
