import Core
@testable import Dataset
import Foundation
import Testing

/// Serves encoded fixture tiles from memory, optionally with one broken path.
struct MemorySource: SampleSource {
    var files: [String: [UInt8]]

    func read(path: String) throws(DatasetError) -> [UInt8] {
        guard let bytes = files[path] else { throw DatasetError(code: "source.missing", "no file \(path)") }
        return bytes
    }
}

@Suite struct SamplePipelineTests {
    static func lease(_ count: Int) -> (entries: [Manifest.Entry], source: MemorySource, tiles: [Tile]) {
        var files: [String: [UInt8]] = [:]
        var entries: [Manifest.Entry] = []
        var tiles: [Tile] = []
        for i in 0..<count {
            let tile = Fixtures.tile(id: "p\(i)", width: 5 + i % 4, seed: i)
            let (bytes, hash) = SampleFile.encodeWithContentHash(tile)
            files["f/\(i)"] = bytes
            entries.append(Manifest.Entry(id: tile.id, sha256: hash, path: "f/\(i)"))
            tiles.append(tile)
        }
        // The lease's order is not the files' order.
        let order = SplitMix64.permutation(count: count, seed: 3)
        return (order.map { entries[$0] }, MemorySource(files: files), order.map { tiles[$0] })
    }

    @Test(arguments: [1, 2, 3, 4])
    func deliversExactlyTheRequestedSamplesInOrder(threads: Int) throws {
        let (entries, source, expected) = Self.lease(23)
        let settings = SamplePipeline.Settings(threads: threads, microBatchSize: 4, prefetchBatches: 2)
        let pipeline = try SamplePipeline(entries: entries, source: source, settings: settings)
        var delivered: [Tile] = []
        var indices: [Int] = []
        while let batch = try pipeline.next() {
            indices.append(batch.index)
            #expect(batch.tiles.count == (batch.index == 5 ? 3 : 4))
            delivered += batch.tiles
        }
        #expect(delivered == expected)
        #expect(indices == Array(0..<6))
        #expect(try pipeline.next() == nil)
        let stats = pipeline.statistics
        #expect(stats.samplesDelivered == 23 && stats.batchesDelivered == 6)
        #expect(stats.bytesRead == entries.reduce(0) { $0 + source.files[$1.path]!.count })
        #expect(stats.maxSamplesAhead <= (1 + settings.prefetchBatches) * settings.microBatchSize)
    }

    @Test func aBadSampleFailsItsBatchOnly() throws {
        var (entries, source, expected) = Self.lease(9)
        entries[4].sha256 = String(repeating: "0", count: 64)           // batch 1 (size 3)
        source.files[entries[7].path]!.removeLast(5)                     // batch 2
        let pipeline = try SamplePipeline(entries: entries, source: source,
                                          settings: SamplePipeline.Settings(threads: 3, microBatchSize: 3, prefetchBatches: 1))
        #expect(try pipeline.next()?.tiles == Array(expected[0..<3]))
        do { _ = try pipeline.next(); Issue.record("a wrong hash was delivered") } catch {
            #expect(error.code == "pipeline.wrong-content" && error.message.contains(entries[4].path))
        }
        do { _ = try pipeline.next(); Issue.record("a truncated file was delivered") } catch {
            #expect(error.code == "sample.truncated")
        }
        #expect(try pipeline.next() == nil)
    }

    @Test func quarantineLeavesBadSamplesOutAndNamesThem() throws {
        var (entries, source, expected) = Self.lease(9)
        entries[4].sha256 = String(repeating: "0", count: 64)           // batch 1
        source.files[entries[7].path]!.removeLast(5)                     // batch 2
        source.files.removeValue(forKey: entries[8].path)                // batch 2
        let settings = SamplePipeline.Settings(threads: 3, microBatchSize: 3, prefetchBatches: 1, quarantineBadSamples: true)
        let pipeline = try SamplePipeline(entries: entries, source: source, settings: settings)
        var delivered: [Tile] = [], indices: [Int] = [], quarantined: [Int: String] = [:]
        while let batch = try pipeline.next() {
            #expect(batch.tiles.count == batch.entryIndices.count)
            delivered += batch.tiles
            indices += batch.entryIndices
            for bad in batch.quarantined { quarantined[bad.entryIndex] = bad.error.code }
        }
        let kept = [0, 1, 2, 3, 5, 6]
        #expect(indices == kept)
        #expect(delivered == kept.map { expected[$0] })
        #expect(quarantined == [4: "pipeline.wrong-content", 7: "sample.truncated", 8: "source.missing"])
        #expect(pipeline.statistics.samplesQuarantined == 3 && pipeline.statistics.samplesDelivered == 6)
    }

    @Test func droppingAPipelineEarlyStopsItsThreads() throws {
        let (entries, source, expected) = Self.lease(40)
        for _ in 0..<20 {
            let pipeline = try SamplePipeline(entries: entries, source: source,
                                              settings: SamplePipeline.Settings(threads: 4, microBatchSize: 2, prefetchBatches: 1))
            #expect(try pipeline.next()?.tiles == Array(expected[0..<2]))
        }
    }

    @Test func badSettingsAreRefused() {
        #expect(throws: DatasetError.self) { try SamplePipeline(entries: [], source: MemorySource(files: [:]), settings: .init(threads: 0)) }
        #expect(throws: DatasetError.self) { try SamplePipeline(entries: [], source: MemorySource(files: [:]), settings: .init(microBatchSize: 0)) }
    }
}

extension SamplePipeline.Batch: Equatable {
    public static func == (a: Self, b: Self) -> Bool { a.index == b.index && a.tiles == b.tiles }
}

@Suite struct CatalogToPipelineTests {
    @Test func aFrozenManifestReadsBackThroughTheCatalogsSource() throws {
        let catalog = try CatalogTests.filled(Fixtures.scratchDirectory())
        let manifest = try catalog.freeze(name: "vines-desc", query: "SELECT id FROM samples WHERE crop = 'vine' ORDER BY id DESC")
        let root = Manifest.catalogDirectory(ofManifestAt: catalog.directory + "/manifests/vines-desc.json")
        #expect(URL(fileURLWithPath: root).standardizedFileURL == URL(fileURLWithPath: catalog.directory).standardizedFileURL)
        let pipeline = try SamplePipeline(entries: manifest.entries, source: LocalDirectorySource(root: root),
                                          settings: SamplePipeline.Settings(threads: 2, microBatchSize: 1))
        var ids: [String] = []
        while let batch = try pipeline.next() { ids += batch.tiles.map(\.id) }
        #expect(ids == ["s3", "s1"])
        #expect(pipeline.statistics.bytesDecoded == 2 * (12 * 9 * 3 + 12 * 9 + 2 * 12 * 9))
    }
}
