import Foundation
import Testing
@testable import Checkpoint

/// Damage that a crash, a full disk or bit rot can leave behind: each is reported by path and
/// reason, and the newest checkpoint that verifies is loaded instead.
@Suite struct CheckpointRecoveryTests {
    /// Writes steps 1, 2 and 3, damages step 3 with `damage`, and checks that step 2 is loaded and
    /// step 3 reported with `kind` and a reason mentioning `mentions`.
    func expectFallback(
        kind: CheckpointError.Kind, mentions: String, damage: (String) throws -> Void
    ) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 3)
        for step in 1...3 { try store.write(Fixtures.checkpoint(step: step)) }
        let newest = scratch.path + "/step-000003"
        try damage(newest)

        let result = try #require(try store.loadNewestVerified())
        #expect(result.info.step == 2)
        #expect(result.checkpoint == Fixtures.checkpoint(step: 2))
        #expect(result.damaged.count == 1)
        let report = try #require(result.damaged.first)
        #expect(report.path == newest)
        #expect(report.step == 3)
        #expect(report.error.kind == kind, "\(report)")
        #expect(report.reason.contains(mentions), "\(report)")
        #expect(throws: CheckpointError.self) { try store.load(path: newest) }
    }

    @Test func truncatedTensorFile() throws {
        try expectFallback(kind: .checksumMismatch, mentions: "weights.safetensors is 300 bytes but the manifest says") { dir in
            let path = dir + "/weights.safetensors"
            try Fixtures.write(Array(try Fixtures.read(path).prefix(300)), to: path)
        }
    }

    @Test func flippedByteInTheData() throws {
        try expectFallback(kind: .checksumMismatch, mentions: "optimizer.safetensors has SHA-256") { dir in
            let path = dir + "/optimizer.safetensors"
            var bytes = try Fixtures.read(path)
            bytes[bytes.count - 5] ^= 0x10
            try Fixtures.write(bytes, to: path)
        }
    }

    @Test func missingManifest() throws {
        try expectFallback(kind: .incomplete, mentions: "has no manifest.json") { dir in
            try FileManager.default.removeItem(atPath: dir + "/manifest.json")
        }
    }

    @Test func missingTensorFile() throws {
        try expectFallback(kind: .checksumMismatch, mentions: "weights.safetensors is missing") { dir in
            try FileManager.default.removeItem(atPath: dir + "/weights.safetensors")
        }
    }

    @Test func manifestThatIsNotJSON() throws {
        try expectFallback(kind: .badManifest, mentions: "not a valid checkpoint manifest") { dir in
            try Fixtures.write(Array("{\"format_version\": 1, \"step\":".utf8), to: dir + "/manifest.json")
        }
    }

    @Test func manifestEditedToAnotherLedgerPosition() throws {
        try expectFallback(kind: .inconsistent, mentions: "grove.ledger_position") { dir in
            try editManifest(in: dir) { $0.replacingOccurrences(of: "\"ledger_position\" : 192", with: "\"ledger_position\" : 256") }
        }
    }

    @Test func manifestClaimingAnotherStep() throws {
        try expectFallback(kind: .inconsistent, mentions: "does not match the directory name step-000003") { dir in
            try editManifest(in: dir) { $0.replacingOccurrences(of: "\"step\" : 3", with: "\"step\" : 4") }
        }
    }

    @Test func manifestFromTheFuture() throws {
        try expectFallback(kind: .badManifest, mentions: "format_version 99") { dir in
            try editManifest(in: dir) { $0.replacingOccurrences(of: "\"format_version\" : 1", with: "\"format_version\" : 99") }
        }
    }

    @Test func leftoverStagingDirectoryIsIgnoredThenCleanedUp() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 3)
        try store.write(Fixtures.checkpoint(step: 1))
        // A crash in the middle of writing step 2: a staging directory with a partial file.
        let staging = scratch.path + "/.tmp-step-000002-abc"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        try Fixtures.write([1, 2, 3], to: staging + "/weights.safetensors")

        let result = try #require(try store.loadNewestVerified())
        #expect(result.info.step == 1)
        #expect(result.damaged.isEmpty)
        #expect(try store.list().map(\.step) == [1])

        try store.write(Fixtures.checkpoint(step: 2))
        #expect(scratch.entries() == ["step-000001", "step-000002"])
    }

    /// A crash while replacing a checkpoint of the same step, after the old copy was moved aside
    /// and before the new one took its place, and a crash in the middle of a retention deletion.
    @Test func interruptedReplacementIsStillLoadedThenMovedBack() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 3)
        try store.write(Fixtures.checkpoint(step: 1))
        try store.write(Fixtures.checkpoint(step: 2))
        try FileManager.default.moveItem(atPath: scratch.path + "/step-000002", toPath: scratch.path + "/.replaced-step-000002-1f")
        try FileManager.default.moveItem(atPath: scratch.path + "/step-000001", toPath: scratch.path + "/.retired-step-000001-2e")

        let loaded = try #require(try store.loadNewestVerified())
        #expect(loaded.info.step == 2)
        #expect(loaded.checkpoint == Fixtures.checkpoint(step: 2))
        #expect(loaded.damaged.isEmpty)

        try store.write(Fixtures.checkpoint(step: 3))
        #expect(scratch.entries() == ["step-000002", "step-000003"])
    }

    @Test func movedAsideCopyIsDroppedOnceItsReplacementIsInPlace() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 3)
        try store.write(Fixtures.checkpoint(step: 2, runName: "old"))
        try FileManager.default.moveItem(atPath: scratch.path + "/step-000002", toPath: scratch.path + "/.replaced-step-000002-1f")
        try store.write(Fixtures.checkpoint(step: 2, runName: "new"))
        #expect(try store.loadNewestVerified()?.checkpoint.metadata.runName == "new")
        #expect(scratch.entries() == ["step-000002"])
    }

    @Test func allDamagedIsAnErrorNotAFreshStart() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 3)
        for step in 1...2 {
            try store.write(Fixtures.checkpoint(step: step))
            try FileManager.default.removeItem(atPath: scratch.path + "/" + CheckpointStore.directoryName(step: step) + "/manifest.json")
        }
        #expect { try store.loadNewestVerified() } throws: { error in
            guard let error = error as? CheckpointError else { return false }
            return error.kind == .noVerifiedCheckpoint && error.message.contains("step-000001") && error.message.contains("step-000002")
        }
    }

    @Test func retentionCountsOnlyCompleteCheckpoints() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 2)
        try store.write(Fixtures.checkpoint(step: 1))
        try store.write(Fixtures.checkpoint(step: 2))
        try FileManager.default.removeItem(atPath: scratch.path + "/step-000002/manifest.json")
        try store.write(Fixtures.checkpoint(step: 3))
        // Step 2 is incomplete, so steps 1 and 3 are the two kept; step 2 stays until it is older
        // than every kept checkpoint.
        #expect(try store.list().map(\.step) == [1, 3])
        try store.write(Fixtures.checkpoint(step: 4))
        #expect(scratch.entries() == ["step-000003", "step-000004"])
    }

    private func editManifest(in dir: String, _ edit: (String) -> String) throws {
        let path = dir + "/manifest.json"
        let text = String(decoding: try Fixtures.read(path), as: UTF8.self)
        let edited = edit(text)
        #expect(edited != text, "the edit did not apply")
        try Fixtures.write(Array(edited.utf8), to: path)
    }
}
