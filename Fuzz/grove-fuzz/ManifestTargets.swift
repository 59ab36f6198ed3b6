import Foundation
@testable import Checkpoint
import Dataset

/// Checkpoint manifests (`manifest.json` of a checkpoint directory, Checkpoint/CheckpointManifest.swift).
///
/// Oracle: a manifest that decodes re-encodes to one that decodes, and encodes to the same bytes.
let checkpointManifestTarget = FuzzTarget(
    name: "checkpoint-manifest",
    summary: "checkpoint manifests (Checkpoint/CheckpointManifest.swift)",
    run: { data in
        guard let manifest = try? CheckpointManifest(decoding: Array(data), source: "fuzz") else { return }
        guard let once = try? manifest.encoded(), let again = try? CheckpointManifest(decoding: once, source: "re-encoded") else {
            finding("a decoded checkpoint manifest does not decode after encoding")
        }
        guard (try? again.encoded()) == once else { finding("a checkpoint manifest is not stable under encode(decode(_))") }
    },
    seeds: {
        let metadata = CheckpointMetadata(runName: "canopy", step: 4, dataEpoch: 0, ledgerPosition: 64, seed: 7,
                                          datasetManifestHash: String(repeating: "ab", count: 32), configurationHash: String(repeating: "cd", count: 32),
                                          createdAt: Date(timeIntervalSince1970: 1_800_000_000), extra: ["loss": "0.5"])
        let manifest = CheckpointManifest(metadata: metadata, weightsSHA256: String(repeating: "ef", count: 32), files: [
            .init(name: "weights.safetensors", size: 1024, sha256: String(repeating: "01", count: 32)),
            .init(name: "optimizer.safetensors", size: 2048, sha256: String(repeating: "02", count: 32)),
        ])
        return [(name: "step-4", bytes: (try? manifest.encoded()) ?? [])]
    }
)

/// Dataset manifests (`Manifest.decode`, Dataset/Manifest.swift).
///
/// A manifest records its own SHA-256, which a mutated input almost never matches, so input whose
/// first byte is odd has its hash recomputed before it is decoded (when it parses at all) to reach
/// the checks behind the hash. Oracle: a manifest that decodes re-encodes to the same bytes.
let datasetManifestTarget = FuzzTarget(
    name: "dataset-manifest",
    summary: "dataset manifests (Dataset/Manifest.swift)",
    run: { data in
        guard let mode = data.first else { return }
        var bytes = Array(data.dropFirst())
        if mode & 1 == 1, var parsed = try? JSONDecoder().decode(Manifest.self, from: Data(bytes)) {
            parsed.sha256 = parsed.computedHash()
            bytes = parsed.jsonBytes()
        }
        guard let manifest = try? Manifest.decode(bytes, origin: "fuzz") else { return }
        let once = manifest.jsonBytes()
        guard let again = try? Manifest.decode(once, origin: "re-encoded") else {
            finding("a decoded dataset manifest does not decode after encoding")
        }
        guard again.jsonBytes() == once else { finding("a dataset manifest is not stable under encode(decode(_))") }
    },
    seeds: {
        let manifest = Manifest(name: "quickstart", query: "SELECT id FROM samples WHERE site = 'YELL'", catalogState: String(repeating: "12", count: 32),
                                createdAt: "2026-12-03T12:00:00Z", entries: [
                                    .init(id: "yell-0-0", sha256: String(repeating: "aa", count: 32), path: "samples/yell-0-0.gts.gz"),
                                    .init(id: "synthetic-1", sha256: String(repeating: "bb", count: 32), path: "samples/synthetic-1.gts.gz"),
                                ])
        return [(name: "two-entries", bytes: [0] + manifest.jsonBytes()), (name: "two-entries-rehash", bytes: [1] + manifest.jsonBytes())]
    }
)
