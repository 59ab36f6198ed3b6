import Foundation

/// The shared state of a `SamplePipeline`: which samples are claimed, which are ready, and
/// where the consumer is. Every field is read and written under `condition`'s lock, which is
/// why the class can be `@unchecked Sendable`. Worker threads hold this object, not the
/// pipeline, so dropping the pipeline can cancel them.
final class PipelineState: @unchecked Sendable {
    let entries: [Manifest.Entry]
    let source: any SampleSource
    let settings: SamplePipeline.Settings
    let batchCount: Int

    private let condition = NSCondition()
    private var nextToClaim = 0
    private var nextBatch = 0
    private var ready: [Int: Result<Tile, DatasetError>] = [:]
    private var cancelled = false
    private var statistics = SamplePipeline.Statistics()

    init(entries: [Manifest.Entry], source: any SampleSource, settings: SamplePipeline.Settings) {
        self.entries = entries
        self.source = source
        self.settings = settings
        batchCount = (entries.count + settings.microBatchSize - 1) / settings.microBatchSize
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    func snapshot() -> SamplePipeline.Statistics {
        condition.lock()
        defer { condition.unlock() }
        return statistics
    }

    /// A worker thread's loop: claim the next sample inside the prefetch window, fetch and
    /// decode it outside the lock, publish it.
    func work() {
        let clock = ContinuousClock()
        while true {
            condition.lock()
            var claimed: Int?
            while !cancelled && nextToClaim < entries.count {
                let limit = (nextBatch + 1 + settings.prefetchBatches) * settings.microBatchSize
                if nextToClaim < limit {
                    claimed = nextToClaim
                    nextToClaim += 1
                    statistics.maxSamplesAhead = max(statistics.maxSamplesAhead, nextToClaim - nextBatch * settings.microBatchSize)
                    break
                }
                condition.wait()
            }
            condition.unlock()
            guard let index = claimed else { return }

            let start = clock.now
            let entry = entries[index]
            var bytesRead = 0
            let result: Result<Tile, DatasetError>
            do throws(DatasetError) {
                let bytes = try source.read(path: entry.path)
                bytesRead = bytes.count
                let (tile, hash) = try SampleFile.decodeWithContentHash(bytes, origin: entry.path, verifyHash: settings.verifyContentHashes)
                guard hash == entry.sha256, tile.id == entry.id else {
                    throw DatasetError(code: "pipeline.wrong-content",
                                       "sample file \(entry.path) holds \(tile.id) with content \(hash); the manifest names \(entry.id) with \(entry.sha256)")
                }
                result = .success(tile)
            } catch {
                result = .failure(error)
            }
            let elapsed = clock.now - start

            condition.lock()
            ready[index] = result
            statistics.bytesRead += bytesRead
            if case .success(let tile) = result { statistics.bytesDecoded += tile.pixels.count + tile.canopy.count + 2 * tile.instances.count }
            statistics.workTime += elapsed
            // Wake the consumer only when the batch it waits for is complete: a wake-up per
            // sample costs a context switch each, which on a loaded machine is most of the time.
            if index / settings.microBatchSize == nextBatch && batchIsReady(nextBatch) { condition.broadcast() }
            condition.unlock()
        }
    }

    func next() throws(DatasetError) -> SamplePipeline.Batch? {
        condition.lock()
        defer { condition.unlock() }
        guard nextBatch < batchCount, !cancelled else { return nil }
        let range = samples(ofBatch: nextBatch)
        if !batchIsReady(nextBatch) {
            let clock = ContinuousClock()
            let start = clock.now
            while !cancelled && !batchIsReady(nextBatch) { condition.wait() }
            statistics.waitTime += clock.now - start
            if cancelled { return nil }
        }
        let results = range.map { ready.removeValue(forKey: $0)! }
        let batch = nextBatch
        nextBatch += 1
        condition.broadcast()
        var tiles: [Tile] = [], indices: [Int] = []
        var quarantined: [(entryIndex: Int, error: DatasetError)] = []
        tiles.reserveCapacity(results.count)
        for (index, result) in zip(range, results) {
            switch result {
            case .success(let tile):
                tiles.append(tile)
                indices.append(index)
            case .failure(let error):
                guard settings.quarantineBadSamples else { throw error }
                quarantined.append((index, error))
            }
        }
        statistics.batchesDelivered += 1
        statistics.samplesDelivered += tiles.count
        statistics.samplesQuarantined += quarantined.count
        return SamplePipeline.Batch(index: batch, tiles: tiles, entryIndices: indices, quarantined: quarantined)
    }

    private func samples(ofBatch batch: Int) -> Range<Int> {
        batch * settings.microBatchSize..<min(entries.count, (batch + 1) * settings.microBatchSize)
    }

    /// Called with the lock held.
    private func batchIsReady(_ batch: Int) -> Bool {
        samples(ofBatch: batch).allSatisfy { ready[$0] != nil }
    }
}
