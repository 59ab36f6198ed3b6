import Core
import Dataset
import Foundation
import Testing
@testable import Training
import Wire

/// What the coordinator's sample server answers, request by request (no sockets): exactly the
/// run's files, and a refusal that says why for anything else.
@Suite struct SampleServiceTests {
    static func ask(_ service: SampleService, _ message: Wire.Message) throws -> Wire.Message {
        try Wire.decode(service.answer(SampleService.encode(message))).1
    }

    static func refusal(_ service: SampleService, path: String) throws -> Wire.SampleRefused? {
        guard case .sampleRefused(let refused) = try ask(service, .sampleRequest(Wire.SampleRequest(request: 7, path: path))) else { return nil }
        return refused
    }

    @Test func servesTheIndexAndEveryFileOfTheRunByteForByte() throws {
        let fixture = try SampleCatalogFixture()
        let service = try fixture.service()
        guard case .sampleIndex(let index) = try Self.ask(service, .indexRequest(Wire.IndexRequest(request: 3))) else {
            Issue.record("no index"); return
        }
        #expect(index.request == 3 && index.files == service.index && Wire.indexHash(index.files) == service.indexHash)
        for path in fixture.manifest.entries.map(\.path) + ["manifests/m.json"] {
            guard case .sampleData(let data) = try Self.ask(service, .sampleRequest(Wire.SampleRequest(request: 4, path: path))) else {
                Issue.record("\(path) not served"); continue
            }
            let expected = try LocalDirectorySource(root: fixture.root).read(path: path)
            #expect(data.request == 4 && data.bytes == expected)
        }
    }

    @Test func refusesPathsOutsideTheRun() throws {
        let fixture = try SampleCatalogFixture()
        let service = try fixture.service()
        for path in ["../m.json", "/etc/passwd", "samples/../catalog.sqlite", "catalog.sqlite", "samples/zz/unknown.gts.gz", "", "manifests"] {
            let refused = try #require(try Self.refusal(service, path: path), "\(path) was served")
            #expect(refused.reason == .notInRun && refused.request == 7, "\(path): \(refused)")
        }
    }

    @Test func refusesFilesOverTheLimitAndNamesWhatCannotBeRead() throws {
        let fixture = try SampleCatalogFixture()
        let first = fixture.manifest.entries[0].path
        let small = try fixture.service(maxFileBytes: 16)
        #expect(try Self.refusal(small, path: first)?.reason == .tooLarge)
        try FileManager.default.removeItem(atPath: fixture.root + "/" + first)
        let gone = try #require(try Self.refusal(try fixture.service(), path: first))
        #expect(gone.reason == .unreadable && gone.text.contains(first), "\(gone.text)")
    }

    @Test func garbageOversizePathsAndOtherKindsAreRefusedAsMalformed() throws {
        let service = try SampleCatalogFixture().service()
        let garbage = try Wire.decode(service.answer([0x47, 0x52, 0x4F, 0x56, 1])).1
        guard case .sampleRefused(let refused) = garbage else { Issue.record("garbage answered with \(garbage.kind)"); return }
        #expect(refused.reason == .malformed && refused.text.contains("wire.truncated"))
        let long = SampleService.encode(.sampleRequest(Wire.SampleRequest(request: 1, path: String(repeating: "a", count: 1025))))
        guard case .sampleRefused(let tooLong) = try Wire.decode(service.answer(long)).1 else { Issue.record("a 1025-byte path was served"); return }
        #expect(tooLong.reason == .malformed && tooLong.text.contains("limit"))
        guard case .sampleRefused(let other) = try Self.ask(service, .heartbeat(Wire.Heartbeat(committedStep: 1))) else { Issue.record("a heartbeat was answered"); return }
        #expect(other.reason == .malformed && other.text.contains("heartbeat"))
    }

    @Test func theRunsTileDirectoryIsIndexedWithEveryImageOnce() throws {
        var config = ClusterConfigFixture.tiles()
        config.dataset.path = repositoryRoot + "/data/aerial-sample"
        let service = try SampleService.forRun(config)
        let paths = service.index.map(\.path)
        #expect(paths.first == "tiles.csv" && paths.contains("instances.csv"))
        #expect(Set(paths).count == paths.count && paths.count == 2 + 3 * 81, "\(paths.count) files")
        #expect(!paths.contains("README.md"), "only the files a worker needs")
        let tiles = try LocalDirectorySource(root: config.dataset.path).read(path: "tiles.csv")
        #expect(service.index[0].sha256 == SHA256.hash(tiles) && service.index[0].size == UInt64(tiles.count))
    }
}

import Config

enum ClusterConfigFixture {
    static func tiles() -> ClusterConfig {
        var config = ClusterConfig()
        config.model.name = "pixel-mlp"
        return config
    }
}

/// The repository root, from this file's place in Tests/TrainingTests.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
