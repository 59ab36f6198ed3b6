/// Runs one ring reduction (reduce-scatter, then all-gather) of a lane's working vector over a link,
/// following a `RingPlan`.
///
/// Within a step the frames are pipelined with a sliding window: a member first queues up to
/// `window` frames, then sends one more each time it has received and combined one. Every member
/// therefore has at most `window` unanswered frames on its outgoing link, which bounds the memory
/// queued in the transport, while the link is never idle waiting for a round trip. Every receive
/// has its own deadline of `timeout` from the moment the member starts waiting, so a dead neighbour
/// fails the collective in bounded time.
struct RingExchange {
    let link: any RingLink
    let timeout: Duration
    let window: Int
    var observer: ((RingAllReduce.Event) -> Void)? = nil

    /// Reduces `lane`'s working vector in place on every member.
    ///
    /// - Parameters:
    ///   - template: the header fields that are the same for every frame of this reduction (mode,
    ///     stage, sequence, vector length, mode parameter); step, chunk, frame and counts are
    ///     filled in per frame.
    func run<Lane: RingLane>(_ lane: Lane, plan: RingPlan, template: RingFrameHeader) throws(CollectiveError) {
        let rank = link.rank
        for phase in RingPlan.Phase.allCases {
            for step in 0..<plan.stepsPerPhase {
                let transfer = plan.transfer(rank: rank, phase: phase, step: step)
                var header = template
                header.phase = phase
                header.step = step
                header.frameCapacity = plan.frameElements
                let start = observer == nil ? nil : ContinuousClock.now
                try exchange(lane, plan: plan, transfer: transfer, header: header)
                if let observer, let start {
                    observer(.transfer(RingAllReduce.Transfer(
                        exponents: template.stage == .exponents, phase: phase, step: step,
                        framesSent: plan.frameCount(ofChunk: transfer.sendChunk), start: start, end: .now)))
                }
            }
            if phase == .reduceScatter {
                lane.finishOwned(plan.chunk(plan.ownedChunk(rank: rank)))
            }
        }
    }

    private func exchange<Lane: RingLane>(
        _ lane: Lane, plan: RingPlan, transfer: RingPlan.Transfer, header: RingFrameHeader
    ) throws(CollectiveError) {
        let sendFrames = plan.frameCount(ofChunk: transfer.sendChunk)
        let receiveFrames = plan.frameCount(ofChunk: transfer.receiveChunk)
        var sent = 0
        while sent < min(window, sendFrames) {
            try send(lane, plan: plan, chunk: transfer.sendChunk, frame: sent, header: header)
            sent += 1
        }
        for f in 0..<receiveFrames {
            let range = plan.frame(f, ofChunk: transfer.receiveChunk)
            let bytes = try link.receive(until: .now + timeout)
            var expected = header
            expected.chunk = transfer.receiveChunk
            expected.frame = f
            expected.elements = range.count
            let failure: CollectiveError? = bytes.withUnsafeBytes { raw in
                do throws(CollectiveError) {
                    try expected.check(raw, elementBytes: lane.elementBytes)
                } catch {
                    return error
                }
                let payload = UnsafeRawBufferPointer(rebasing: raw[RingFrameHeader.size...])
                switch header.phase {
                case .reduceScatter: lane.combine(range, from: payload)
                case .allGather: lane.store(range, from: payload)
                }
                return nil
            }
            if let failure { throw failure }
            if sent < sendFrames {
                try send(lane, plan: plan, chunk: transfer.sendChunk, frame: sent, header: header)
                sent += 1
            }
        }
        while sent < sendFrames {
            try send(lane, plan: plan, chunk: transfer.sendChunk, frame: sent, header: header)
            sent += 1
        }
    }

    private func send<Lane: RingLane>(
        _ lane: Lane, plan: RingPlan, chunk: Int, frame: Int, header: RingFrameHeader
    ) throws(CollectiveError) {
        let range = plan.frame(frame, ofChunk: chunk)
        var header = header
        header.chunk = chunk
        header.frame = frame
        header.elements = range.count
        let size = RingFrameHeader.size + range.count * lane.elementBytes
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            header.write(into: raw)
            lane.write(range, into: UnsafeMutableRawBufferPointer(rebasing: raw[RingFrameHeader.size...]))
            initialized = size
        }
        try link.send(bytes)
    }
}
