import Dataset
import Testing
@testable import Training

/// Serves encoded tiles from memory.
private struct MemorySource: SampleSource {
    var files: [String: [UInt8]]
    func read(path: String) throws(DatasetError) -> [UInt8] {
        guard let bytes = files[path] else { throw DatasetError(code: "source.missing", "no file \(path)") }
        return bytes
    }
}

/// A manifest-backed sample set: micro-batches in order, and the next lease read ahead.
@Suite struct SampleSetTests {
    static func set(_ count: Int) -> SampleSet {
        var files: [String: [UInt8]] = [:], entries: [Manifest.Entry] = []
        for i in 0..<count {
            let pixels = (0..<3 * 16).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
            let tile = Tile(id: "s\(i)", width: 4, height: 4, bands: 3, groundSampleDistance: 0.1, pixels: pixels,
                            canopy: [UInt8](repeating: UInt8(i % 2), count: 16), instances: [UInt16](repeating: 0, count: 16), trees: [])
            let (bytes, hash) = SampleFile.encodeWithContentHash(tile)
            files["f\(i)"] = bytes
            entries.append(Manifest.Entry(id: tile.id, sha256: hash, path: "f\(i)"))
        }
        return .manifest(entries, source: MemorySource(files: files))
    }

    static func ids(_ set: SampleSet, _ batches: [[Int]], prepared: SampleSet.PreparedLease? = nil) throws -> [[String]] {
        var seen: [[String]] = []
        _ = try set.forEachMicroBatch(batches, threads: 2, prefetch: 1, prepared: prepared) { batch in
            #expect(batch.positions.map { "s\($0)" } == batch.tiles.map(\.id))
            seen.append(batch.tiles.map(\.id))
        }
        return seen
    }

    @Test func aPreparedLeaseDeliversTheSameSamples() throws {
        let set = Self.set(12)
        let batches = [[3, 7], [0, 11], [5, 2]]
        let prepared = try #require(try set.prepare(batches, threads: 2, prefetch: 1))
        #expect(try Self.ids(set, batches, prepared: prepared) == [["s3", "s7"], ["s0", "s11"], ["s5", "s2"]])
    }

    @Test func aPreparedLeaseForOtherSamplesIsNotUsed() throws {
        let set = Self.set(12)
        let guessed = try #require(try set.prepare([[1, 2], [3, 4]], threads: 2, prefetch: 1))
        // The ring changed: the lease that came has other micro-batches. It gets its own samples.
        #expect(try Self.ids(set, [[9, 10]], prepared: guessed) == [["s9", "s10"]])
        #expect(try Self.ids(set, [[1, 2], [3, 5]], prepared: guessed) == [["s1", "s2"], ["s3", "s5"]])
    }

    @Test func augmentationFollowsEachSlotsDataEpochNotTheWorker() throws {
        let augmentation = TileAugmentation(flip: true, rotate90: true, brightness: 0.2)
        let set = Self.set(6).augmented(augmentation, seed: 11)
        let stored = try Self.set(6).load(Array(0..<6))
        // Sample 4 twice in one micro-batch, in two data epochs (a step across an epoch's end).
        let batches = [[4, 1], [2, 4]], epochs = [[0, 0], [0, 1]]
        var seen: [Tile] = []
        _ = try set.forEachMicroBatch(batches, threads: 2, prefetch: 1, dataEpochs: epochs) { seen += $0.tiles }
        let expected = zip(batches.joined(), epochs.joined()).map { position, epoch in
            augmentation.apply(to: stored[position], seed: 11, sample: position, dataEpoch: epoch)
        }
        #expect(seen == expected)
        #expect(seen[0] != seen[3])
        // The same micro-batch alone, as another worker would compute it, gives the same tiles.
        var alone: [Tile] = []
        _ = try set.forEachMicroBatch([[2, 4]], threads: 1, prefetch: 1, dataEpochs: [[0, 1]]) { alone += $0.tiles }
        #expect(alone == Array(seen[2...]))
        // Without epochs (validation, loading) the tiles are as stored.
        var plain: [Tile] = []
        _ = try set.forEachMicroBatch(batches, threads: 2, prefetch: 1) { plain += $0.tiles }
        #expect(plain == [stored[4], stored[1], stored[2], stored[4]])
    }

    @Test func tilesInMemoryNeedNoPreparation() throws {
        #expect(try SampleSet.tiles([]).prepare([[0]], threads: 1, prefetch: 1) == nil)
    }
}
