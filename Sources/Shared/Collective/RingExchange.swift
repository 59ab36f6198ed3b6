/// Runs one ring reduction (reduce-scatter, then all-gather) of a lane's working vector over a link,
/// following a `RingPlan`.
///
/// Within a step the frames are pipelined with a sliding window: a member first queues up to
/// `window` frames, then sends one more each time it has received and combined one. Every member
/// therefore has at most `window` unanswered frames on its outgoing link, which bounds the memory
/// queued in the transport, while the link is never idle waiting for a round trip. Every receive
/// has its own deadline of `timeout` from the moment the member starts waiting, so a dead neighbour
/// fails the collective in bounded time.
///
/// In the all-gather, only the owner encodes its chunk (step 0); at every later step a member
/// forwards the frames it received at the step before, unchanged (`RingLink.forward`), so a
/// gathered chunk is never encoded again and the transport can send the received bytes without a
/// copy. A member keeps one chunk's received frames for that (the transport's buffers).
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
            // All-gather frames after the first step are forwarded as received.
            var forwarding: [ReceivedFrame] = []
            for step in 0..<plan.stepsPerPhase {
                let transfer = plan.transfer(rank: rank, phase: phase, step: step)
                var header = template
                header.phase = phase
                // The all-gather's frames are forwarded unchanged from member to member, so
                // their header carries no step (the chunk index already tells which step it is).
                header.step = phase == .allGather ? 0 : step
                header.frameCapacity = plan.frameElements
                let keep = phase == .allGather && step + 1 < plan.stepsPerPhase
                let start = observer == nil ? nil : ContinuousClock.now
                forwarding = try exchange(lane, plan: plan, transfer: transfer, header: header, forwarding: forwarding, keep: keep)
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

    /// One step: sends the frames of `transfer.sendChunk` (encoded from the lane, or `forwarding`
    /// when given: the frames received at the previous all-gather step, which are exactly this
    /// step's) and receives those of `transfer.receiveChunk`. Returns the received frames when
    /// `keep`, else none.
    private func exchange<Lane: RingLane>(
        _ lane: Lane, plan: RingPlan, transfer: RingPlan.Transfer, header: RingFrameHeader,
        forwarding: [ReceivedFrame], keep: Bool
    ) throws(CollectiveError) -> [ReceivedFrame] {
        let sendFrames = plan.frameCount(ofChunk: transfer.sendChunk)
        let receiveFrames = plan.frameCount(ofChunk: transfer.receiveChunk)
        precondition(forwarding.isEmpty || forwarding.count == sendFrames,
                     "\(forwarding.count) frames to forward for a chunk of \(sendFrames)")
        var kept: [ReceivedFrame] = []
        if keep { kept.reserveCapacity(receiveFrames) }
        var sent = 0
        func sendNext() throws(CollectiveError) {
            if forwarding.isEmpty {
                try send(lane, plan: plan, chunk: transfer.sendChunk, frame: sent, header: header)
            } else {
                try link.forward(forwarding[sent])
            }
            sent += 1
        }
        while sent < min(window, sendFrames) {
            try sendNext()
        }
        for f in 0..<receiveFrames {
            let range = plan.frame(f, ofChunk: transfer.receiveChunk)
            let frame = try link.receiveFrame(until: .now + timeout)
            var expected = header
            expected.chunk = transfer.receiveChunk
            expected.frame = f
            expected.elements = range.count
            // The lane reads the payload straight from the transport's buffer.
            let failure: CollectiveError? = frame.withUnsafeBytes { raw in
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
            if keep { kept.append(frame) }
            if sent < sendFrames {
                try sendNext()
            }
        }
        while sent < sendFrames {
            try sendNext()
        }
        return kept
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
        var bytes = link.frameStorage(count: size)
        precondition(bytes.count == size, "the link lent \(bytes.count) bytes for a frame of \(size)")
        bytes.withUnsafeMutableBytes { raw in
            header.write(into: raw)
            let payload = UnsafeMutableRawBufferPointer(rebasing: raw[RingFrameHeader.size...])
            if header.phase == .reduceScatter && header.step == 0 {
                lane.writeOwn(range, into: payload)
            } else {
                lane.write(range, into: payload)
            }
        }
        try link.send(bytes)
    }
}
