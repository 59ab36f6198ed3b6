/// Which chunk every rank sends and receives at every step of a ring all-reduce, and how each chunk
/// is cut into frames. Pure: no links, no clocks, no buffers.
///
/// A vector of `count` elements is cut into `worldSize` chunks whose sizes differ by at most one
/// element (the first `count % worldSize` chunks get the extra one). The reduce-scatter phase runs
/// `worldSize - 1` steps: at step `s` rank `r` sends chunk `(r - s) mod N` and receives chunk
/// `(r - s - 1) mod N`, which it combines with its own copy. Afterwards rank `r` holds the full
/// reduction of chunk `(r + 1) mod N` (its *owned* chunk). The all-gather phase runs another
/// `worldSize - 1` steps: at step `s` rank `r` sends chunk `(r + 1 - s) mod N` and receives chunk
/// `(r - s) mod N`, which it stores as final. What a rank receives at a step is exactly what its
/// previous rank sends at that step, so the two sides never disagree about the data in flight.
///
/// Frames bound the size of one message on a link: each chunk is split into consecutive frames of
/// at most `frameElements` elements. An empty chunk has no frames.
public struct RingPlan: Sendable, Equatable {
    /// The two phases of a ring all-reduce.
    public enum Phase: UInt8, Sendable, CaseIterable {
        case reduceScatter = 0
        case allGather = 1
    }

    /// What one rank does at one step: the chunk it sends to the next rank and the chunk it
    /// receives from the previous one.
    public struct Transfer: Sendable, Equatable {
        public var sendChunk: Int
        public var receiveChunk: Int
    }

    public let worldSize: Int
    public let count: Int
    /// The most elements one frame carries (at least 1).
    public let frameElements: Int

    /// - Parameters:
    ///   - worldSize: ranks in the ring, at least 1.
    ///   - count: elements in the vector being reduced, at least 0.
    ///   - frameElements: the most elements one frame carries, at least 1.
    public init(worldSize: Int, count: Int, frameElements: Int) {
        precondition(worldSize >= 1, "a ring needs at least one member, got worldSize \(worldSize)")
        precondition(count >= 0, "a vector cannot have \(count) elements")
        precondition(frameElements >= 1, "a frame must carry at least one element, got \(frameElements)")
        self.worldSize = worldSize
        self.count = count
        self.frameElements = frameElements
    }

    /// A plan whose frames hold at most `frameBytes` bytes of elements `elementBytes` wide (and at
    /// least one element, whatever `frameBytes` says).
    public init(worldSize: Int, count: Int, elementBytes: Int, frameBytes: Int) {
        precondition(elementBytes >= 1, "elements must be at least one byte wide, got \(elementBytes)")
        self.init(worldSize: worldSize, count: count, frameElements: max(1, frameBytes / elementBytes))
    }

    /// Steps in each phase; zero for a ring of one.
    public var stepsPerPhase: Int { worldSize - 1 }

    /// The element range of chunk `c`, `0 <= c < worldSize`.
    public func chunk(_ c: Int) -> Range<Int> {
        precondition(c >= 0 && c < worldSize, "chunk \(c) is outside 0..<\(worldSize)")
        let base = count / worldSize
        let extra = count % worldSize
        let start = c * base + min(c, extra)
        return start..<(start + base + (c < extra ? 1 : 0))
    }

    /// The chunk whose complete reduction `rank` holds after the reduce-scatter phase.
    public func ownedChunk(rank: Int) -> Int {
        checkRank(rank)
        return (rank + 1) % worldSize
    }

    /// The chunks `rank` sends and receives at `step` of `phase`, `0 <= step < stepsPerPhase`.
    public func transfer(rank: Int, phase: Phase, step: Int) -> Transfer {
        checkRank(rank)
        precondition(step >= 0 && step < stepsPerPhase, "step \(step) is outside 0..<\(stepsPerPhase)")
        switch phase {
        case .reduceScatter:
            return Transfer(sendChunk: wrap(rank - step), receiveChunk: wrap(rank - step - 1))
        case .allGather:
            return Transfer(sendChunk: wrap(rank + 1 - step), receiveChunk: wrap(rank - step))
        }
    }

    /// How many frames carry chunk `c`.
    public func frameCount(ofChunk c: Int) -> Int {
        let size = chunk(c).count
        return (size + frameElements - 1) / frameElements
    }

    /// The element range of frame `f` of chunk `c`, `0 <= f < frameCount(ofChunk: c)`.
    public func frame(_ f: Int, ofChunk c: Int) -> Range<Int> {
        let range = chunk(c)
        precondition(f >= 0 && f < frameCount(ofChunk: c), "frame \(f) is outside chunk \(c)'s frames")
        let start = range.lowerBound + f * frameElements
        return start..<min(start + frameElements, range.upperBound)
    }

    private func wrap(_ value: Int) -> Int {
        let m = value % worldSize
        return m < 0 ? m + worldSize : m
    }

    private func checkRank(_ rank: Int) {
        precondition(rank >= 0 && rank < worldSize, "rank \(rank) is outside 0..<\(worldSize)")
    }
}
