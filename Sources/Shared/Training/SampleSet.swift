import Dataset
import Foundation

/// The training samples of a run, by position: tiles held in memory (a tile directory), or the
/// entries of a frozen manifest whose gzip'd sample files are read and decoded as leases need them.
public struct SampleSet: Sendable {
    enum Storage: Sendable {
        case tiles([Tile])
        case manifest([Manifest.Entry], any SampleSource)
    }

    let storage: Storage

    public static func tiles(_ tiles: [Tile]) -> SampleSet { SampleSet(storage: .tiles(tiles)) }
    public static func manifest(_ entries: [Manifest.Entry], source: any SampleSource) -> SampleSet {
        SampleSet(storage: .manifest(entries, source))
    }

    public var count: Int {
        switch storage {
        case .tiles(let tiles): tiles.count
        case .manifest(let entries, _): entries.count
        }
    }

    /// Hands `body` the tiles of each micro-batch in order. For a manifest, a pipeline reads and
    /// decodes on `threads` threads, `prefetch` micro-batches ahead of the one being computed.
    /// Returns how long `body`'s caller waited for data.
    public func forEachMicroBatch(_ batches: [[Int]], threads: Int, prefetch: Int,
                                  _ body: ([Tile]) throws -> Void) throws -> Duration {
        switch storage {
        case .tiles(let tiles):
            let clock = ContinuousClock()
            var waited = Duration.zero
            for batch in batches {
                let start = clock.now
                let loaded = batch.map { tiles[$0] }
                waited += start.duration(to: clock.now)
                try body(loaded)
            }
            return waited
        case .manifest(let entries, let source):
            guard let size = batches.first?.count, size > 0 else { return .zero }
            precondition(batches.allSatisfy { $0.count == size }, "micro-batches of one lease have one size")
            let pipeline = try SamplePipeline(
                entries: batches.flatMap { $0.map { entries[$0] } }, source: source,
                settings: SamplePipeline.Settings(threads: threads, microBatchSize: size, prefetchBatches: max(1, prefetch)))
            while let batch = try pipeline.next() { try body(batch.tiles) }
            return pipeline.statistics.waitTime
        }
    }

    /// The catalog id of the sample at `position` when the set comes from a manifest.
    public func catalogID(at position: Int) -> String? {
        if case .manifest(let entries, _) = storage { return entries[position].id }
        return nil
    }

    /// Every sample at the given positions, decoded (for validation sets, which are small).
    public func load(_ positions: [Int]) throws -> [Tile] {
        var result: [Tile] = []
        _ = try forEachMicroBatch(positions.map { [$0] }, threads: 2, prefetch: 4) { result += $0 }
        return result
    }
}
