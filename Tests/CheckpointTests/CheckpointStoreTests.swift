import Core
import Foundation
import Testing
@testable import Checkpoint

@Suite struct CheckpointStoreTests {
    @Test func writeThenLoadGivesBackTheSameCheckpoint() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path + "/nested/checkpoints", keep: 3)
        let original = Fixtures.checkpoint(step: 123)

        let info = try store.write(original)
        #expect(info.path.hasSuffix("/step-000123"))
        #expect(info.step == 123)
        let files = try FileManager.default.contentsOfDirectory(atPath: info.path).sorted()
        #expect(files == ["manifest.json", "optimizer.safetensors", "weights.safetensors"])

        let (loaded, loadedInfo) = try store.load(path: info.path)
        #expect(loaded == original)
        #expect(loadedInfo == info)
    }

    @Test func manifestRecordsRunStateAndEveryFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let checkpoint = Fixtures.checkpoint(step: 7)
        let info = try CheckpointStore(directory: scratch.path, keep: 1).write(checkpoint)

        let json = try JSONSerialization.jsonObject(with: Data(Fixtures.read(info.path + "/manifest.json"))) as? [String: Any]
        let manifest = try #require(json)
        #expect(manifest["format_version"] as? Int == 1)
        #expect(manifest["run_name"] as? String == "canopy-test")
        #expect(manifest["step"] as? Int == 7)
        #expect(manifest["data_epoch"] as? Int == 0)
        #expect(manifest["ledger_position"] as? Int == 448)
        #expect(manifest["dataset_manifest_hash"] as? String == "sha256:dataset")
        #expect(manifest["configuration_hash"] as? String == "sha256:config")
        #expect(manifest["created_at"] as? String == "2026-09-21T14:13:20Z")
        #expect(manifest["weights_sha256"] as? String == checkpoint.weightsSHA256)
        #expect(info.manifest.seed == 0xDEAD_BEEF_0123_4567)

        let files = try #require(manifest["files"] as? [[String: Any]])
        #expect(files.compactMap { $0["name"] as? String } == ["weights.safetensors", "optimizer.safetensors"])
        for file in files {
            let bytes = try Fixtures.read(info.path + "/" + (file["name"] as! String))
            #expect(file["size"] as? Int == bytes.count)
            #expect(file["sha256"] as? String == SHA256.hex(bytes))
        }
    }

    @Test func largestSeedSurvivesTheManifest() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var checkpoint = Fixtures.checkpoint(step: 1)
        checkpoint.metadata.seed = .max
        let store = CheckpointStore(directory: scratch.path, keep: 1)
        try store.write(checkpoint)
        #expect(try store.loadNewestVerified()?.checkpoint.metadata.seed == .max)
    }

    @Test func weightsAndOptimizerStateGoToTheirOwnFiles() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let info = try CheckpointStore(directory: scratch.path, keep: 1).write(Fixtures.checkpoint(step: 2))
        let weights = try SafetensorsFile(decoding: Fixtures.read(info.path + "/weights.safetensors"), source: "weights")
        let optimizer = try SafetensorsFile(decoding: Fixtures.read(info.path + "/optimizer.safetensors"), source: "optimizer")
        #expect(weights.tensors.map(\.name) == ["param/conv1.weight", "param/conv1.bias", "param/head.scale"])
        #expect(optimizer.tensors.map(\.name) == ["optim/conv1.weight.momentum", "optim/conv1.bias.momentum"])
        #expect(weights.metadata["grove.step"] == "2")
    }

    @Test func listShowsCompleteCheckpointsOldestFirstAndRetentionKeepsTheNewest() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 2)
        #expect(try store.list().isEmpty)
        for step in [10, 20, 30, 40] { try store.write(Fixtures.checkpoint(step: step)) }
        #expect(try store.list().map(\.step) == [30, 40])
        #expect(scratch.entries() == ["step-000030", "step-000040"])
    }

    @Test func stepsSortByNumberNotByName() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 2)
        for step in [999_999, 1_000_000, 1_000_001] { try store.write(Fixtures.checkpoint(step: step)) }
        #expect(try store.list().map(\.step) == [1_000_000, 1_000_001])
        #expect(try store.loadNewestVerified()?.info.step == 1_000_001)
    }

    @Test func strayEntriesAreNotCheckpoints() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 2)
        try store.write(Fixtures.checkpoint(step: 3))
        for name in ["step-+5", "step-", "step-12a", "notes.txt"] {
            try FileManager.default.createDirectory(atPath: scratch.path + "/" + name, withIntermediateDirectories: false)
        }
        #expect(CheckpointStore.step(ofDirectoryName: "step-000042") == 42)
        #expect(try store.list().map(\.step) == [3])
        let result = try #require(try store.loadNewestVerified())
        #expect(result.info.step == 3)
        #expect(result.damaged.isEmpty)
    }

    @Test func rewritingAStepReplacesIt() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 3)
        try store.write(Fixtures.checkpoint(step: 5, runName: "first"))
        try store.write(Fixtures.checkpoint(step: 5, runName: "second"))
        #expect(scratch.entries() == ["step-000005"])
        #expect(try store.loadNewestVerified()?.checkpoint.metadata.runName == "second")
    }

    @Test func writingAnEarlierStepRemovesTheAbandonedLaterOnes() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 5)
        for step in [1, 2, 3] { try store.write(Fixtures.checkpoint(step: step)) }
        try store.write(Fixtures.checkpoint(step: 2, runName: "resumed"))
        #expect(try store.list().map(\.step) == [1, 2])
        #expect(try store.loadNewestVerified()?.checkpoint.metadata.runName == "resumed")
    }

    @Test func emptyStoreLoadsNothing() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        #expect(try CheckpointStore(directory: scratch.path + "/missing", keep: 1).loadNewestVerified() == nil)
    }

    @Test func refusesBadInputWithTheOffendingValue() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        #expect { try CheckpointStore(directory: scratch.path, keep: 0).write(Fixtures.checkpoint(step: 1)) } throws: {
            ($0 as? CheckpointError)?.message.contains("keep is 0") == true
        }
        var unnamed = Fixtures.checkpoint(step: 1)
        unnamed.tensors.append(NamedTensor(name: "stray", shape: [1], values: [0]))
        #expect { try CheckpointStore(directory: scratch.path, keep: 1).write(unnamed) } throws: {
            ($0 as? CheckpointError)?.message.contains("\"stray\"") == true
        }
        #expect(scratch.entries().isEmpty)
    }

    @Test func weightsHashIsTheHashOfLittleEndianFloats() {
        // Reference: hashlib.sha256(numpy.array([1, -2, 0.5], dtype="<f4").tobytes()).hexdigest()
        let reference = "2ce4bdb6b34a50ac7092eb9fee94337a27498e9eb9bae44192f15b88831b2422"
        let flat: [Float] = [1, -2, 0.5]
        #expect(flat.withUnsafeBufferPointer { Checkpoint.weightsSHA256($0) } == reference)

        let split = Checkpoint(
            metadata: Fixtures.checkpoint(step: 0).metadata,
            tensors: [
                NamedTensor(name: "param/a", shape: [2], values: [1, -2]),
                NamedTensor(name: "optim/a", shape: [1], values: [9]),
                NamedTensor(name: "param/b", shape: [], values: [0.5]),
            ]
        )
        #expect(split.weightsSHA256 == reference)
        #expect(split.flatValues(prefix: Checkpoint.parameterPrefix) == flat)
    }
}

@Suite struct CheckpointSlicingTests {
    @Test func slicingAFlatBufferAndFlatteningAgainAreInverse() throws {
        let flat: [Float] = (0..<11).map(Float.init)
        let tensors = try Checkpoint.tensors(
            prefix: Checkpoint.parameterPrefix, slicing: flat, into: [("w", [2, 3]), ("b", [2]), ("s", []), ("none", [0, 2]), ("t", [2])]
        )
        #expect(tensors.map(\.name) == ["param/w", "param/b", "param/s", "param/none", "param/t"])
        #expect(tensors.map(\.values) == [[0, 1, 2, 3, 4, 5], [6, 7], [8], [], [9, 10]])
        let checkpoint = Checkpoint(metadata: Fixtures.checkpoint(step: 0).metadata, tensors: tensors)
        #expect(checkpoint.flatValues(prefix: Checkpoint.parameterPrefix) == flat)
        #expect(checkpoint.weightsSHA256 == flat.withUnsafeBufferPointer { Checkpoint.weightsSHA256($0) })
    }

    @Test func slicingRefusesShapesThatDoNotCoverTheBuffer() {
        #expect(throws: CheckpointError.self) { try Checkpoint.tensors(prefix: "param/", slicing: [1, 2, 3], into: [("w", [2])]) }
        #expect { try Checkpoint.tensors(prefix: "param/", slicing: [1, 2], into: [("w", [3])]) } throws: {
            ($0 as? CheckpointError)?.message.contains("param/w of shape [3]") == true
        }
    }
}
