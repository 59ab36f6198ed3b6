import Foundation
@testable import Checkpoint

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("grove-checkpoint-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func entries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}

enum Fixtures {
    static let createdAt = Date(timeIntervalSince1970: 1_790_000_000)

    /// A small checkpoint whose values depend on `step`, so checkpoints of different steps differ.
    static func checkpoint(step: Int, runName: String = "canopy-test") -> Checkpoint {
        func values(_ count: Int, _ salt: Int) -> [Float] {
            (0..<count).map { Float(step * 1000 + salt * 100 + $0) * 0.25 - 3 }
        }
        return Checkpoint(
            metadata: CheckpointMetadata(
                runName: runName, step: step, dataEpoch: step / 10, ledgerPosition: (step % 10) * 64,
                seed: 0xDEAD_BEEF_0123_4567, datasetManifestHash: "sha256:dataset", configurationHash: "sha256:config",
                createdAt: createdAt, extra: ["generation": "3"]
            ),
            tensors: [
                NamedTensor(name: "param/conv1.weight", shape: [4, 3, 3, 3], values: values(108, 1)),
                NamedTensor(name: "param/conv1.bias", shape: [4], values: values(4, 2)),
                NamedTensor(name: "param/head.scale", shape: [], values: values(1, 3)),
                NamedTensor(name: "optim/conv1.weight.momentum", shape: [4, 3, 3, 3], values: values(108, 4)),
                NamedTensor(name: "optim/conv1.bias.momentum", shape: [4], values: values(4, 5)),
            ]
        )
    }

    /// Bit patterns, so NaNs compare equal to themselves.
    static func bits(_ tensors: [NamedTensor]) -> [[UInt32]] { tensors.map { $0.values.map(\.bitPattern) } }

    static func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
