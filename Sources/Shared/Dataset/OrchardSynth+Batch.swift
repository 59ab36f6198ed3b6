import Foundation

extension OrchardSynth {
    /// Generates and encodes samples `indices` of `seed` on `threads` threads, in index order.
    /// The result does not depend on the thread count: each sample is a pure function of its
    /// index.
    public func prepare(seed: UInt64, indices: Range<Int>, threads: Int) -> [PreparedSample] {
        let count = indices.count
        guard count > 0 else { return [] }
        let slots = UnsafeMutableBufferPointer<PreparedSample?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize().deallocate() }
        let workers = max(1, min(threads, count))
        // Each worker writes only the slots of its own stride, so no two threads touch one slot.
        let box = SlotBox(slots)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for offset in stride(from: worker, to: count, by: workers) {
                let sample = self.sample(seed: seed, index: indices.lowerBound + offset)
                box.slots[offset] = PreparedSample(tile: sample.tile, labels: sample.labels)
            }
        }
        return slots.map { $0! }
    }
}

extension OrchardSynth {
    /// Generates samples `indices` in chunks and hands each chunk to `consume` in order, while
    /// the next chunk is being generated: writing one chunk overlaps generating the next.
    public func prepareChunks(
        seed: UInt64, indices: Range<Int>, chunkSize: Int, threads: Int,
        consume: ([PreparedSample]) throws(DatasetError) -> Void
    ) throws(DatasetError) {
        let chunks = stride(from: indices.lowerBound, to: indices.upperBound, by: max(1, chunkSize)).map {
            $0..<min(indices.upperBound, $0 + max(1, chunkSize))
        }
        guard let first = chunks.first else { return }
        var current = prepare(seed: seed, indices: first, threads: threads)
        for next in chunks.dropFirst().map(Optional.some) + [nil] {
            let pending = ChunkBox()
            let group = DispatchGroup()
            if let next {
                DispatchQueue.global().async(group: group) { pending.samples = self.prepare(seed: seed, indices: next, threads: threads) }
            }
            // Waits for the background chunk even if consuming fails, so no work outlives the call.
            defer { group.wait() }
            try consume(current)
            group.wait()
            current = pending.samples
        }
    }
}

/// The result of a chunk generated in the background; read only after its group is waited on.
private final class ChunkBox: @unchecked Sendable {
    var samples: [PreparedSample] = []
}

/// Carries the output buffer into the concurrent loop; safe because workers write disjoint slots
/// and the caller reads only after `concurrentPerform` has returned.
private final class SlotBox: @unchecked Sendable {
    let slots: UnsafeMutableBufferPointer<PreparedSample?>
    init(_ slots: UnsafeMutableBufferPointer<PreparedSample?>) { self.slots = slots }
}
