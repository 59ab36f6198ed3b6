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
    /// Leave unreadable samples out of their micro-batch (and report them) instead of failing.
    let quarantineBadSamples: Bool

    public static func tiles(_ tiles: [Tile]) -> SampleSet { SampleSet(storage: .tiles(tiles), quarantineBadSamples: false) }
    public static func manifest(_ entries: [Manifest.Entry], source: any SampleSource, quarantineBadSamples: Bool = false) -> SampleSet {
        SampleSet(storage: .manifest(entries, source), quarantineBadSamples: quarantineBadSamples)
    }

    /// The samples of one micro-batch, as `forEachMicroBatch` hands them over.
    public struct MicroBatch {
        public var tiles: [Tile]
        /// The set position of each tile, in order.
        public var positions: [Int]
        /// Positions left out as unreadable (`dataset.on_corrupt: quarantine`), with the reason.
        public var quarantined: [(position: Int, error: DatasetError)]
    }

    public var count: Int {
        switch storage {
        case .tiles(let tiles): tiles.count
        case .manifest(let entries, _): entries.count
        }
    }

    /// A lease's samples being read and decoded before the lease arrives: a worker predicts its
    /// next lease (the same ring deals the next step the same way) and starts on it while the
    /// current step's all-reduce runs. Used only if the lease that comes is exactly this one.
    public final class PreparedLease: Sendable {
        let batches: [[Int]]
        let pipeline: SamplePipeline
        init(batches: [[Int]], pipeline: SamplePipeline) {
            self.batches = batches
            self.pipeline = pipeline
        }
    }

    /// Starts reading and decoding `batches` now; nil for samples held in memory.
    public func prepare(_ batches: [[Int]], threads: Int, prefetch: Int) throws -> PreparedLease? {
        guard case .manifest(let entries, let source) = storage, let size = batches.first?.count, size > 0,
              batches.allSatisfy({ $0.count == size }) else { return nil }
        return PreparedLease(batches: batches, pipeline: try makePipeline(batches, entries: entries, source: source,
                                                                          threads: threads, prefetch: prefetch))
    }

    private func makePipeline(_ batches: [[Int]], entries: [Manifest.Entry], source: any SampleSource,
                              threads: Int, prefetch: Int) throws -> SamplePipeline {
        try SamplePipeline(
            entries: batches.flatMap { $0 }.map { entries[$0] }, source: source,
            settings: SamplePipeline.Settings(threads: threads, microBatchSize: batches[0].count, prefetchBatches: max(1, prefetch),
                                              quarantineBadSamples: quarantineBadSamples))
    }

    /// Hands `body` the tiles of each micro-batch in order. For a manifest, a pipeline reads and
    /// decodes on `threads` threads, `prefetch` micro-batches ahead of the one being computed.
    /// Returns how long `body`'s caller waited for data.
    /// A `prepared` lease is used when it holds exactly these batches, and ignored otherwise.
    public func forEachMicroBatch(_ batches: [[Int]], threads: Int, prefetch: Int, prepared: PreparedLease? = nil,
                                  _ body: (MicroBatch) throws -> Void) throws -> Duration {
        switch storage {
        case .tiles(let tiles):
            let clock = ContinuousClock()
            var waited = Duration.zero
            for batch in batches {
                let start = clock.now
                let loaded = batch.map { tiles[$0] }
                waited += start.duration(to: clock.now)
                try body(MicroBatch(tiles: loaded, positions: batch, quarantined: []))
            }
            return waited
        case .manifest(let entries, let source):
            guard let size = batches.first?.count, size > 0 else { return .zero }
            precondition(batches.allSatisfy { $0.count == size }, "micro-batches of one lease have one size")
            let positions = batches.flatMap { $0 }
            let pipeline = try prepared.flatMap { $0.batches == batches ? $0.pipeline : nil }
                ?? makePipeline(batches, entries: entries, source: source, threads: threads, prefetch: prefetch)
            while let batch = try pipeline.next() {
                try body(MicroBatch(tiles: batch.tiles, positions: batch.entryIndices.map { positions[$0] },
                                    quarantined: batch.quarantined.map { (positions[$0.entryIndex], $0.error) }))
            }
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
        _ = try forEachMicroBatch(positions.map { [$0] }, threads: 2, prefetch: 4) { result += $0.tiles }
        return result
    }
}
