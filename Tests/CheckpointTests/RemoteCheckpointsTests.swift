import Core
import Foundation
import ObjectStore
import Testing
@testable import Checkpoint

/// The remote copy's protocol against the in-memory store (which passes the same contract as
/// S3): manifest last, unpublish first, retention, verified restore into an empty store.
@Suite struct RemoteCheckpointsTests {
    static let location = ObjectLocation(bucket: "runs", prefix: "canopy/r1")

    /// A local store with checkpoints of `steps`, and their infos.
    static func local(_ scratch: ScratchDirectory, steps: [Int], keep: Int = 10) throws -> [CheckpointInfo] {
        let store = CheckpointStore(directory: scratch.path + "/local", keep: keep)
        return try steps.map { try store.write(Fixtures.checkpoint(step: $0)) }
    }

    static func manifests(_ storage: MemoryObjectStorage) -> [String] {
        storage.keys.filter { $0.hasSuffix("/manifest.json") }
    }

    @Test func anUploadSendsTheFilesThenTheManifest() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let storage = MemoryObjectStorage()
        let remote = RemoteCheckpoints(storage: storage, location: Self.location, keep: 3)
        let infos = try Self.local(scratch, steps: [10])
        let report = try remote.upload(infos[0])
        #expect(storage.keys == ["canopy/r1/step-000010/manifest.json", "canopy/r1/step-000010/optimizer.safetensors",
                                 "canopy/r1/step-000010/weights.safetensors"])
        #expect(report.bytes == infos[0].manifest.files.map(\.size).reduce(0, +)
                + (try Fixtures.read(infos[0].path + "/manifest.json")).count)
        #expect(try storage.get("canopy/r1/step-000010/weights.safetensors", range: nil) == Fixtures.read(infos[0].path + "/weights.safetensors"))
        #expect(try remote.entries().map(\.complete) == [true])

        // Every possible failure point of a second upload: the manifest is the last request, so
        // a failure anywhere before it leaves step 20 without one, and step 10 still complete.
        let second = try Self.local(scratch, steps: [20])[0]
        for failAt in 0..<4 {
            for key in storage.keys where key.contains("step-000020") { try storage.delete(key) }
            storage.fail(after: failAt, count: 1)
            #expect(throws: (any Error).self) { try remote.upload(second) }
            storage.fail(after: nil)
            #expect(Self.manifests(storage) == ["canopy/r1/step-000010/manifest.json"], "failure at request \(failAt + 1)")
        }
    }

    @Test func retentionAndAbandonedTimelinesApplyRemotely() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let storage = MemoryObjectStorage()
        let remote = RemoteCheckpoints(storage: storage, location: Self.location, keep: 2)
        let infos = try Self.local(scratch, steps: [10, 20, 30, 40])
        for info in infos { try remote.upload(info) }
        #expect(try remote.entries().map(\.step) == [30, 40], "keep 2")
        #expect(storage.keys.count == 6)

        // A run that resumed from step 10 writes step 20 again: 30 and 40 belong to the
        // abandoned timeline and go before anything of the new step is sent.
        let other = try ScratchDirectory()
        defer { other.remove() }
        let replayed = try Self.local(other, steps: [20])[0]
        let report = try remote.upload(replayed)
        #expect(report.removed == [30, 40])
        #expect(try remote.entries().map(\.step) == [20])
        #expect(try storage.get("canopy/r1/step-000020/weights.safetensors", range: nil) == Fixtures.read(replayed.path + "/weights.safetensors"))

        try remote.removeAll()
        #expect(storage.keys.isEmpty)
    }

    @Test func anEmptyStoreIsRestoredFromTheNewestVerifiedRemoteCheckpoint() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let storage = MemoryObjectStorage()
        let remote = RemoteCheckpoints(storage: storage, location: Self.location, keep: 5)
        for info in try Self.local(scratch, steps: [10, 20, 30]) { try remote.upload(info) }
        // Step 40 was half uploaded: files, no manifest.
        try storage.put("canopy/r1/step-000040/weights.safetensors", [1, 2, 3])
        // Step 30's weights were damaged after the upload.
        var weights = try #require(try storage.get("canopy/r1/step-000030/weights.safetensors", range: nil))
        weights[weights.count - 1] ^= 1
        try storage.put("canopy/r1/step-000030/weights.safetensors", weights)

        let fresh = CheckpointStore(directory: scratch.path + "/new-machine/checkpoints", keep: 5)
        let restored = try #require(try remote.restoreNewestVerified(into: fresh))
        #expect(restored.info.step == 20)
        #expect(restored.info.path == scratch.path + "/new-machine/checkpoints/step-000020")
        #expect(restored.damaged.map(\.step) == [30])
        #expect(restored.damaged.first?.error.kind == .checksumMismatch)
        #expect(restored.checkpoint.weightsSHA256 == Fixtures.checkpoint(step: 20).weightsSHA256)
        // The local store now holds exactly the verified copy, and nothing half-downloaded.
        #expect(try fresh.list().map(\.step) == [20])
        #expect(try FileManager.default.contentsOfDirectory(atPath: fresh.directory) == ["step-000020"])
        #expect(try fresh.loadNewestVerified()?.checkpoint.weightsSHA256 == restored.checkpoint.weightsSHA256)
    }

    @Test func nothingVerifiesIsAnErrorAndNothingThereIsNil() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let storage = MemoryObjectStorage()
        let remote = RemoteCheckpoints(storage: storage, location: Self.location, keep: 5)
        let fresh = CheckpointStore(directory: scratch.path + "/fresh", keep: 5)
        #expect(try remote.restoreNewestVerified(into: fresh) == nil)
        try remote.upload(try Self.local(scratch, steps: [10])[0])
        try storage.put("canopy/r1/step-000010/optimizer.safetensors", [0])
        do {
            _ = try remote.restoreNewestVerified(into: fresh)
            Issue.record("a damaged checkpoint was restored")
        } catch let error as CheckpointError {
            #expect(error.kind == .noVerifiedCheckpoint)
            #expect(error.message.contains("memory:///canopy/r1/step-000010"), "\(error.message)")
        }
        #expect(try fresh.list().isEmpty)
        // A store that cannot be read is an error, never "no checkpoint".
        storage.fail(after: 0)
        #expect(throws: ObjectStoreError.self) { _ = try remote.restoreNewestVerified(into: fresh) }
    }

    @Test func aLargeCheckpointGoesInParts() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let big = Checkpoint(metadata: Fixtures.checkpoint(step: 5).metadata, tensors: [
            NamedTensor(name: "param/w", shape: [1_600_000], values: (0..<1_600_000).map { Float($0) }),
            NamedTensor(name: "optim/w.momentum", shape: [4], values: [1, 2, 3, 4]),
        ])
        let info = try CheckpointStore(directory: scratch.path + "/local", keep: 2).write(big)
        let storage = MemoryObjectStorage()
        let remote = RemoteCheckpoints(storage: storage, location: Self.location, keep: 2, partSize: MultipartUpload.minimumPartSize)
        try remote.upload(info)
        #expect(storage.openUploads == 0)
        let restored = try #require(try remote.restoreNewestVerified(into: CheckpointStore(directory: scratch.path + "/other", keep: 2)))
        #expect(restored.checkpoint.weightsSHA256 == big.weightsSHA256)
    }

    @Test func theUploaderNeverBlocksAndKeepsOnlyTheNewestWaiting() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let storage = MemoryObjectStorage()
        let remote = RemoteCheckpoints(storage: storage, location: Self.location, keep: 10)
        let infos = try Self.local(scratch, steps: [10, 20, 30, 40])
        let uploaded = Locked<[Int]>([])
        let uploader = BackgroundUploader(remote: remote, onUploaded: { report in uploaded.update { $0.append(report.step) } },
                                          onError: { step, error in Issue.record("step \(step): \(error)") })
        for info in infos { uploader.submit(info) }
        #expect(uploader.close(timeout: 30))
        let steps = uploaded.value
        #expect(steps.last == 40, "the newest is always uploaded: \(steps)")
        #expect(steps.count + uploader.skipped == 4, "each one uploaded or skipped for a newer one: \(steps), \(uploader.skipped) skipped")
        #expect(try remote.entries().filter(\.complete).map(\.step) == steps)
    }
}
