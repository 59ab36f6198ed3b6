import Foundation

/// The `manifest.json` of one checkpoint directory: the run's state, and the size and SHA-256 of
/// every file, so a loader can tell a complete, intact checkpoint from a damaged one without
/// trusting anything it has not checked. Field names are snake_case in the JSON (see
/// docs/checkpoints.md).
public struct CheckpointManifest: Sendable, Equatable, Codable {
    /// Bumped when the layout changes incompatibly; a loader refuses versions it does not know.
    public static let currentFormatVersion = 1
    /// The largest manifest a loader reads; anything bigger is damage, not a manifest.
    static let maximumSize = 1 << 20

    public struct FileEntry: Sendable, Equatable, Codable {
        public var name: String
        public var size: Int
        public var sha256: String
    }

    public var formatVersion: Int
    public var runName: String
    public var step: Int
    public var dataEpoch: Int
    public var ledgerPosition: Int
    public var seed: UInt64
    public var datasetManifestHash: String
    public var configurationHash: String
    public var weightsSHA256: String
    public var createdAt: Date
    public var extra: [String: String]
    public var files: [FileEntry]

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case runName = "run_name"
        case step
        case dataEpoch = "data_epoch"
        case ledgerPosition = "ledger_position"
        case seed
        case datasetManifestHash = "dataset_manifest_hash"
        case configurationHash = "configuration_hash"
        case weightsSHA256 = "weights_sha256"
        case createdAt = "created_at"
        case extra
        case files
    }

    init(metadata: CheckpointMetadata, weightsSHA256: String, files: [FileEntry]) {
        formatVersion = Self.currentFormatVersion
        runName = metadata.runName
        step = metadata.step
        dataEpoch = metadata.dataEpoch
        ledgerPosition = metadata.ledgerPosition
        seed = metadata.seed
        datasetManifestHash = metadata.datasetManifestHash
        configurationHash = metadata.configurationHash
        self.weightsSHA256 = weightsSHA256
        createdAt = metadata.createdAt
        extra = metadata.extra
        self.files = files
    }

    /// The run state the manifest records.
    public var metadata: CheckpointMetadata {
        CheckpointMetadata(
            runName: runName, step: step, dataEpoch: dataEpoch, ledgerPosition: ledgerPosition, seed: seed,
            datasetManifestHash: datasetManifestHash, configurationHash: configurationHash, createdAt: createdAt,
            extra: extra
        )
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        var bytes = Array(try encoder.encode(self))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Decodes and sanity-checks a manifest; `source` names the file in errors.
    init(decoding bytes: [UInt8], source: String) throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            self = try decoder.decode(CheckpointManifest.self, from: Data(bytes))
        } catch {
            throw CheckpointError(.badManifest, "\(source): not a valid checkpoint manifest (\(Self.describe(error)))")
        }
        guard formatVersion == Self.currentFormatVersion else {
            throw CheckpointError(
                .badManifest,
                "\(source): format_version \(formatVersion) is not the supported version \(Self.currentFormatVersion)"
            )
        }
        for file in files where file.size < 0 {
            throw CheckpointError(.badManifest, "\(source): file \"\(file.name)\" has negative size \(file.size)")
        }
    }

    /// A one-line reason from a decoding error (the default description is a multi-line dump).
    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\""
        case DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "not JSON" : "bad value at \"\(path)\""
        default: return "\(error)"
        }
    }
}
