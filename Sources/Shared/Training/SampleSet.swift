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
    /// What `forEachMicroBatch` does to a tile given its data epoch, and the run seed it draws from.
    private(set) var augmentation = TileAugmentation()
    private(set) var augmentationSeed: UInt64 = 0

    /// This set with its tiles augmented when a caller names their data epochs.
    public func augmented(_ augmentation: TileAugmentation, seed: UInt64) -> SampleSet {
        var copy = self
        copy.augmentation = augmentation
        copy.augmentationSeed = seed
        return copy
    }

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
    /// With `dataEpochs` (one per sample of `batches`, same shape), each tile is augmented as its
    /// (position, data epoch) says; without, tiles are handed over as stored.
    public func forEachMicroBatch(_ batches: [[Int]], threads: Int, prefetch: Int, prepared: PreparedLease? = nil,
                                  dataEpochs: [[Int]]? = nil, _ body: (MicroBatch) throws -> Void) throws -> Duration {
        guard let dataEpochs, !augmentation.isIdentity else {
            return try forEachStoredMicroBatch(batches, threads: threads, prefetch: prefetch, prepared: prepared, body)
        }
        precondition(dataEpochs.map(\.count) == batches.map(\.count), "one data epoch per sample")
        // Micro-batches arrive in order, one per batch. A step that straddles two data epochs can
        // hold one sample twice, so a tile's epoch comes from its slot, not from its position:
        // delivered tiles are the batch's slots in order, less any quarantined ones.
        var index = 0
        // On the caller's thread, after decoding: about 0.1 ms per 128x128 tile, under 1 % of its
        // forward and backward pass (docs/model.md, `tensor-bench augment`), so not worth a thread.
        return try forEachStoredMicroBatch(batches, threads: threads, prefetch: prefetch, prepared: prepared) { batch in
            let slots = batches[index], epochs = dataEpochs[index]
            index += 1
            var slot = 0
            var augmented = batch
            augmented.tiles = zip(batch.tiles, batch.positions).map { tile, position in
                while slots[slot] != position { slot += 1 }
                defer { slot += 1 }
                return augmentation.apply(to: tile, seed: augmentationSeed, sample: position, dataEpoch: epochs[slot])
            }
            try body(augmented)
        }
    }

    private func forEachStoredMicroBatch(_ batches: [[Int]], threads: Int, prefetch: Int, prepared: PreparedLease?,
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
        _ = try forEachStoredMicroBatch(positions.map { [$0] }, threads: 2, prefetch: 4, prepared: nil) { result += $0.tiles }
        return result
    }
}
