import Foundation

/// Fetches and decodes the samples of a lease on background threads and hands them out as
/// micro-batches, strictly in the order given.
///
/// At most `Settings.prefetchBatches` micro-batches beyond the one being consumed are fetched
/// ahead, so memory stays bounded however slow the consumer is. Every sample's content hash is
/// checked against its manifest entry. `statistics.waitTime` is the time `next()` spent blocked:
/// the input pipeline's share of a step.
///
/// `next()` is meant for one consumer thread. Dropping the pipeline stops its threads.
public final class SamplePipeline: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Fetch-and-decode threads.
        public var threads = 2
        /// Samples per micro-batch; the last batch may be shorter.
        public var microBatchSize = 2
        /// Micro-batches fetched beyond the next one: at most `(1 + prefetchBatches) *
        /// microBatchSize` samples are in flight or waiting.
        public var prefetchBatches = 2
        /// Recompute each sample's SHA-256 (see `SampleFile.decodeWithContentHash`). Either way
        /// the trailer must name the manifest's hash and the gzip CRC-32 must hold.
        public var verifyContentHashes = true
        /// What a sample that cannot be read or decoded does: fail its micro-batch (`next()`
        /// throws, the default), or leave the batch and be listed in `Batch.quarantined`.
        public var quarantineBadSamples = false

        public init(threads: Int = 2, microBatchSize: Int = 2, prefetchBatches: Int = 2, verifyContentHashes: Bool = true,
                    quarantineBadSamples: Bool = false) {
            self.threads = threads
            self.microBatchSize = microBatchSize
            self.prefetchBatches = prefetchBatches
            self.verifyContentHashes = verifyContentHashes
            self.quarantineBadSamples = quarantineBadSamples
        }

        public func validate() throws(DatasetError) {
            guard (1...64).contains(threads) else {
                throw DatasetError(code: "pipeline.bad-setting", "pipeline threads \(threads) is outside 1...64")
            }
            guard microBatchSize >= 1, prefetchBatches >= 1 else {
                throw DatasetError(code: "pipeline.bad-setting",
                                   "pipeline micro-batch size \(microBatchSize) and prefetch \(prefetchBatches) must be at least 1")
            }
        }
    }

    /// One micro-batch: its position in the lease and its decoded samples in order.
    public struct Batch: Sendable {
        public var index: Int
        public var tiles: [Tile]
        /// Index into the pipeline's entries of each tile, in order.
        public var entryIndices: [Int]
        /// Samples of this batch left out because they could not be read or decoded (only with
        /// `quarantineBadSamples`), with the reason.
        public var quarantined: [(entryIndex: Int, error: DatasetError)]
    }

    /// What the pipeline did so far.
    public struct Statistics: Sendable, Equatable {
        public var batchesDelivered = 0
        public var samplesDelivered = 0
        /// Sample file bytes read (compressed).
        public var bytesRead = 0
        /// Decoded bytes: image planes, masks and instance ids.
        public var bytesDecoded = 0
        /// Time `next()` spent waiting for samples.
        public var waitTime: Duration = .zero
        /// Fetch and decode time summed over threads.
        public var workTime: Duration = .zero
        /// The furthest any thread ran ahead of the consumer, in samples (bounded by prefetch).
        public var maxSamplesAhead = 0
        /// Samples left out of their batch as unreadable (`quarantineBadSamples`).
        public var samplesQuarantined = 0
    }

    private let state: PipelineState

    /// Starts fetching `entries` (what a lease names) from `source`.
    public init(entries: [Manifest.Entry], source: any SampleSource, settings: Settings = Settings()) throws(DatasetError) {
        try settings.validate()
        state = PipelineState(entries: entries, source: source, settings: settings)
        for _ in 0..<min(settings.threads, max(1, entries.count)) {
            let state = self.state
            let thread = Thread { state.work() }
            thread.name = "grove-sample-pipeline"
            thread.start()
        }
    }

    deinit { state.cancel() }

    /// The next micro-batch in order, or nil after the last. Throws the first error of the
    /// batch's samples (unreadable, corrupt, or not the content the manifest names).
    public func next() throws(DatasetError) -> Batch? { try state.next() }

    public var statistics: Statistics { state.snapshot() }

    /// Number of micro-batches the entries make.
    public var batchCount: Int { state.batchCount }
}
