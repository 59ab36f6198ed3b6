/// Sums every member's micro-batch gradients over a ring of `RingLink`s, in one of three modes.
///
/// Each member of the ring owns one instance and calls `sum` once per training step, from one
/// thread; the calls block until the ring has finished or failed. Every member gets the same
/// outcome: the same bits in every mode (the all-gather forwards the owner's bits unchanged), and
/// `.overflow` on all members or none.
///
/// Every frame carries a `RingFrameHeader` with this instance's sequence number, which advances by
/// one per `sum`; all members must start from the same `firstSequence`. After a thrown error the
/// link may still hold frames of the failed collective: discard the link (the generation ends).
///
/// Not thread-safe: one instance per member, used by one thread at a time. In `exact` mode it keeps
/// a scratch buffer of 4 or 8 bytes per gradient element between calls.
public final class RingAllReduce {
    public let link: any RingLink
    public let settings: AllReduceSettings
    /// The sequence number the next `sum` will use.
    public private(set) var sequence: UInt64
    /// The `exact` mode's 64-bit sums, kept between calls (8 bytes per element): a fresh 200 MiB
    /// buffer per step would cost more in first-touch page faults than the encoding itself.
    var integerScratch: [Int64] = []
    /// The same for the 32-bit sums `exact` uses up to `ExactBlockCodec.narrowMicroBatchLimit`
    /// micro-batches (4 bytes per element).
    var narrowScratch: [Int32] = []
    /// The previous result's storage, reused for the next result once the caller has let go of it
    /// (the training loop applies a sum and drops it before the next step). A fresh vector per
    /// call would be zero-filled by the kernel page by page: for a 100 MiB gradient that cost
    /// about as much as one pass of the ring's arithmetic. If the caller still holds the previous
    /// result, the next call copies instead (copy on write), so results never alias.
    var resultScratch: [Float] = []
    /// `fp16`'s wire copy of the partial sums and the owned chunk (2 bytes per element), kept
    /// between calls like the others; the link may be lent it (see `HalfWireLane`).
    var halfScratch: [Float16] = []
    /// Called on the calling thread as each part of a `sum` ends (see `Event`); nil by default,
    /// and then nothing is timed.
    public var observer: ((Event) -> Void)?

    /// - Parameters:
    ///   - link: this member's ring link.
    ///   - settings: validated here; every member must use the same mode and frame size.
    ///   - firstSequence: the sequence number of the first collective (e.g. the step number).
    public init(link: any RingLink, settings: AllReduceSettings = AllReduceSettings(), firstSequence: UInt64 = 0) throws(InvalidAllReduceSettings) {
        try settings.validate()
        self.link = link
        self.settings = settings
        self.sequence = firstSequence
    }

    /// Sums the micro-batch gradients of every member, element by element.
    ///
    /// Caller errors (a micro-batch of the wrong length, more local micro-batches than
    /// `totalMicroBatches`, a loss scale that is not positive and finite) stop the process with a
    /// message naming the value: they are bugs, not conditions to recover from.
    ///
    /// - Parameters:
    ///   - microBatches: this member's micro-batch gradients, each of `count` floats; may be empty
    ///     if this member got none this step. In `fp32` and `fp16` they are summed in this order
    ///     before the ring; in `exact` the order does not matter.
    ///   - count: elements in every gradient vector, the same on every member.
    ///   - totalMicroBatches: micro-batches over all members, the same on every member (`exact`
    ///     sizes its integer headroom from it).
    ///   - lossScale: `fp16` only: gradients are multiplied by it before they are narrowed to
    ///     float16 and the sum is divided by it afterwards, so the result is unscaled. The same on
    ///     every member; ignored by the other modes.
    /// - Returns: `.sum` of all micro-batches of all members, or `.overflow` on every member.
    /// - Throws: `CollectiveError.timeout` or `.closed` when a member is gone, `.malformed` when
    ///   members disagree about the collective, `.superseded` when a neighbour is already in a
    ///   newer generation. Frames that do not decode at all are dropped and counted by the link
    ///   (`RingLink.droppedFrames`), not thrown.
    public func sum(microBatches: [[Float]], count: Int, totalMicroBatches: Int, lossScale: Float = 1) throws(CollectiveError) -> ReduceOutcome {
        precondition(count >= 0 && count <= Int(UInt32.max), "gradient length \(count) is outside 0...\(UInt32.max)")
        for (index, batch) in microBatches.enumerated() where batch.count != count {
            preconditionFailure("micro-batch \(index) has \(batch.count) floats, expected \(count)")
        }
        precondition(totalMicroBatches >= max(1, microBatches.count),
                     "totalMicroBatches \(totalMicroBatches) is less than this member's \(microBatches.count) micro-batches (or 1)")
        precondition(lossScale.isFinite && lossScale > 0, "lossScale \(lossScale) must be positive and finite")
        let current = sequence
        sequence &+= 1
        switch settings.mode {
        case .exact:
            return try exactSum(microBatches, count: count, totalMicroBatches: totalMicroBatches, sequence: current)
        case .fp32:
            return try floatSum(microBatches, count: count, sequence: current)
        case .fp16:
            return try halfSum(microBatches, count: count, lossScale: lossScale, sequence: current)
        }
    }

    /// The exchange that moves frames for this instance.
    var exchange: RingExchange {
        RingExchange(link: link, timeout: settings.timeout, window: settings.window, observer: observer)
    }

    /// Ends the lending of a ring that may have lent `storage`'s memory to the link (see
    /// `RingLink.send(header:lending:)`): waits until the link has released it — up to a second
    /// (or the collective's timeout, if shorter) after a success, normally microseconds, and not
    /// at all after a failure. If it is still lent then (a neighbour that died after the last
    /// frame was queued), the link keeps `storage` alive until it is released, so a queued frame
    /// never reads freed memory, and the step is not held up. (A caller that changes a kept array
    /// meanwhile changes a copy: arrays are copied on write.)
    func endLending(_ storage: @autoclosure () -> Any, failed: Bool) {
        if link.settle(until: failed ? .now : .now + min(settings.timeout, Self.settleWait)) { return }
        link.keepUntilSettled(storage())
    }

    /// The longest a successful `sum` waits for the link to release lent payloads.
    static let settleWait: Duration = .seconds(1)

    /// A vector of `count` floats for the next result, contents unspecified: the previous
    /// result's storage when its size matches (see `resultScratch`).
    func takeResultBuffer(count: Int) -> [Float] {
        let buffer = resultScratch
        resultScratch = []
        return buffer.count == count ? buffer : [Float](repeating: 0, count: count)
    }

    /// A plan for `count` elements of `elementBytes` each, with this instance's frame size.
    func plan(count: Int, elementBytes: Int) -> RingPlan {
        RingPlan(worldSize: link.worldSize, count: count, elementBytes: elementBytes, frameBytes: settings.frameBytes)
    }

    /// The header fields shared by every frame of one reduction.
    func template(stage: RingFrameHeader.Stage, sequence: UInt64, count: Int, parameter: UInt32) -> RingFrameHeader {
        RingFrameHeader(
            mode: settings.mode, stage: stage, phase: .reduceScatter, sequence: sequence, step: 0, chunk: 0,
            frame: 0, elements: 0, vectorLength: count, parameter: parameter, frameCapacity: 0)
    }
}
