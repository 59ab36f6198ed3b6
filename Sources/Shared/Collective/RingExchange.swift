/// Runs one ring reduction (reduce-scatter, then all-gather) of a lane's working vector over a link,
/// following a `RingPlan`.
///
/// The frames stream: a frame goes out as soon as what it carries is known, not when its whole
/// ring step is done. What a member receives at step `s` is exactly the chunk it sends at step
/// `s + 1` (for the last reduce-scatter step, the owned chunk it sends first in the all-gather), so
/// sending frame `f` of step `s + 1` waits only for frame `f` of step `s`. In its order of sends
/// and receives, send `k` therefore depends on receive `k - F`, where `F` is the number of frames
/// of the member's first chunk, which it sends straight away. Every link stays busy across step
/// and phase boundaries instead of draining at each one, which matters most when a chunk is only
/// a few frames (a small vector, or many members).
///
/// A sliding window bounds what is queued: a member never has more than `window` frames sent
/// beyond what it has received. Every receive has its own deadline of `timeout` from the moment
/// the member starts waiting, so a dead neighbour fails the collective in bounded time.
///
/// In the all-gather, only the owner encodes its chunk (step 0); at every later step a member
/// forwards the frames it received, unchanged (`RingLink.forward`), so a gathered chunk is never
/// encoded again and the transport can send the received bytes without a copy.
struct RingExchange {
    let link: any RingLink
    let timeout: Duration
    let window: Int
    var observer: ((RingAllReduce.Event) -> Void)? = nil

    /// Payloads at least this long are lent to the link (`RingLink.send(header:lending:)`);
    /// shorter ones are cheaper to copy than to account for.
    static let lendingBytes = 64 << 10

    /// Reduces `lane`'s working vector in place on every member.
    ///
    /// - Parameters:
    ///   - template: the header fields that are the same for every frame of this reduction (mode,
    ///     stage, sequence, vector length, mode parameter); phase, step, chunk, frame and counts are
    ///     filled in per frame.
    func run<Lane: RingLane>(_ lane: Lane, plan: RingPlan, template: RingFrameHeader) throws(CollectiveError) {
        let rank = link.rank
        let stepsPerPhase = plan.stepsPerPhase
        guard stepsPerPhase > 0 else {
            lane.finishOwned(plan.chunk(plan.ownedChunk(rank: rank)))
            return
        }
        var steps: [RingStep] = []
        for phase in RingPlan.Phase.allCases {
            for step in 0..<stepsPerPhase {
                let transfer = plan.transfer(rank: rank, phase: phase, step: step)
                steps.append(RingStep(phase: phase, step: step, transfer: transfer,
                                  sendFrames: plan.frameCount(ofChunk: transfer.sendChunk),
                                  receiveFrames: plan.frameCount(ofChunk: transfer.receiveChunk)))
            }
        }
        var run = StreamState(steps: steps, observed: observer != nil)
        var header = template
        header.frameCapacity = plan.frameElements
        let exponents = template.stage == .exponents
        let firstPrepared = offerFirstSends(lane, plan: plan, first: steps[0], header: header)

        while run.received < run.totalReceives || run.sent < run.totalSends {
            while run.canSend(window: window) {
                let ended = try sendNext(lane, plan: plan, run: &run, header: header, firstPrepared: firstPrepared)
                if let ended, let observer { observer(.transfer(run.transfer(ended, exponents: exponents))) }
            }
            guard run.received < run.totalReceives else { continue }
            let ended = try receiveNext(lane, plan: plan, run: &run, header: header, lastReduceStep: stepsPerPhase - 1)
            if let ended, let observer { observer(.transfer(run.transfer(ended, exponents: exponents))) }
        }
    }

    /// Sends the next frame in order: this member's own chunk (first step), a chunk it has just
    /// combined or completed (later reduce-scatter steps and the first all-gather step), or a
    /// gathered frame it received (later all-gather steps). Returns the step this send ended, if
    /// any (only tracked with an observer).
    private func sendNext<Lane: RingLane>(
        _ lane: Lane, plan: RingPlan, run: inout StreamState, header: RingFrameHeader, firstPrepared: Bool
    ) throws(CollectiveError) -> Int? {
        let (index, frame) = run.sendCursor
        let step = run.steps[index]
        run.noteStart(of: index)
        if index == 0 && firstPrepared {
            try link.sendPrepared()
        } else if step.phase == .allGather && step.step > 0 {
            try link.forward(run.takeForward())
        } else {
            let range = plan.frame(frame, ofChunk: step.transfer.sendChunk)
            try send(lane, range: range, header: Self.header(header, of: step, frame: frame, range: range), own: index == 0)
        }
        return run.didSend()
    }

    /// Receives the next frame in order, checks its header and combines or stores it. Returns the
    /// step this receive ended, if any (only tracked with an observer).
    private func receiveNext<Lane: RingLane>(
        _ lane: Lane, plan: RingPlan, run: inout StreamState, header: RingFrameHeader, lastReduceStep: Int
    ) throws(CollectiveError) -> Int? {
        let (index, f) = run.receiveCursor
        let step = run.steps[index]
        run.noteStart(of: index)
        let range = plan.frame(f, ofChunk: step.transfer.receiveChunk)
        var expected = header
        expected.phase = step.phase
        // The all-gather's frames are forwarded unchanged from member to member, so their header
        // carries no step (the chunk index already tells which step it is).
        expected.step = step.phase == .allGather ? 0 : step.step
        expected.chunk = step.transfer.receiveChunk
        expected.frame = f
        expected.elements = range.count
        // A gathered frame is stored as it comes: a link that writes its payload anyway (a sealed
        // link decrypts it) may write it where it belongs, once it has seen the expected header.
        let placement = step.phase == .allGather ? lane.storeDestination(range).map { destination in
            PayloadPlacement(headBytes: RingFrameHeader.size, destination: destination) { [expected] head in
                (try? expected.check(header: head, payloadBytes: destination.count, elementBytes: lane.elementBytes)) != nil
            }
        } : nil
        // One deadline for the frame, however many undecodable ones come before it: noise cannot
        // stretch the wait for a neighbour that is gone.
        let deadline = ContinuousClock.now + timeout
        func next() throws(CollectiveError) -> ReceivedFrame {
            if let placement { return try link.receiveFrame(until: deadline, placing: placement) }
            return try link.receiveFrame(until: deadline)
        }
        var frame = try next()
        while frame.placedPayloadBytes == 0, let problem = RingFrameHeader.undecodable(frame, elementBytes: lane.elementBytes) {
            link.dropUndecodable(frame, reason: problem)
            frame = try next()
        }
        if frame.placedPayloadBytes > 0 {
            // The link wrote the payload in place after `placement` accepted the header; checked
            // again here, so that no link can place a frame the exchange would refuse.
            let refusal: CollectiveError? = frame.head.withUnsafeBytes { head in
                guard placement != nil else { return .malformed("a frame placed where no placement was offered") }
                guard head.count == RingFrameHeader.size else { return .malformed("a placed frame with a head of \(head.count) bytes") }
                do throws(CollectiveError) {
                    try expected.check(header: head, payloadBytes: frame.placedPayloadBytes, elementBytes: lane.elementBytes)
                } catch {
                    return error
                }
                return nil
            }
            if let refusal { throw refusal }
            lane.storedInPlace(range)
            if index + 1 < run.steps.count { run.keepForForwarding(frame) }
            return run.didReceive()
        }
        // The lane reads the payload straight from the transport's buffer.
        let outcome: CollectiveError?? = frame.withHead(size: RingFrameHeader.size) { head, payload in
            do throws(CollectiveError) {
                try expected.check(header: head, payloadBytes: payload.count, elementBytes: lane.elementBytes)
            } catch {
                return error
            }
            switch step.phase {
            case .reduceScatter:
                // The last reduce-scatter step completes the owned chunk frame by frame.
                if index == lastReduceStep {
                    lane.combineFinishing(range, from: payload)
                } else {
                    lane.combine(range, from: payload)
                }
            case .allGather:
                lane.store(range, from: payload)
            }
            return nil
        }
        guard let outcome else {
            throw .malformed("frame of \(frame.count) bytes is shorter than the \(RingFrameHeader.size)-byte header")
        }
        if let failure = outcome { throw failure }
        // A gathered frame goes on unchanged at the next all-gather step.
        if step.phase == .allGather && index + 1 < run.steps.count { run.keepForForwarding(frame) }
        return run.didReceive()
    }

    /// The header of frame `frame` (elements `range`) that this member sends at `step`.
    private static func header(_ template: RingFrameHeader, of step: RingStep, frame: Int, range: Range<Int>) -> RingFrameHeader {
        var header = template
        header.phase = step.phase
        header.step = step.phase == .allGather ? 0 : step.step
        header.chunk = step.transfer.sendChunk
        header.frame = frame
        header.elements = range.count
        return header
    }

    /// Offers the link the first step's frames — this member's own contribution, known before
    /// anything is received — so that a link with work to do per frame (sealing) can do it
    /// ahead, beside the receives. Whether the link took them.
    private func offerFirstSends<Lane: RingLane>(_ lane: Lane, plan: RingPlan, first: RingStep, header: RingFrameHeader) -> Bool {
        guard first.sendFrames > 1 else { return false }
        var frames: [PreparedSend] = []
        var bytes = 0
        for frame in 0..<first.sendFrames {
            let range = plan.frame(frame, ofChunk: first.transfer.sendChunk)
            var head = [UInt8](repeating: 0, count: RingFrameHeader.size)
            head.withUnsafeMutableBytes { Self.header(header, of: first, frame: frame, range: range).write(into: $0) }
            let count = range.count * lane.elementBytes
            bytes += count
            // Lent where the lane has the wire form in memory (as `send` would lend it), else
            // encoded on the link's thread, into the frame, as `send` would write it.
            if count >= Self.lendingBytes, let payload = lane.wireBytes(range, own: true) {
                frames.append(PreparedSend(header: head, payload: .lent(payload)))
            } else {
                frames.append(PreparedSend(header: head, payload: .written(count: count) { lane.writeOwn(range, into: $0) }))
            }
        }
        // Small vectors (the exponents' agreement) are not worth a hand-over between threads.
        guard bytes >= 4 * Self.lendingBytes else { return false }
        return link.prepareSends(frames)
    }

    private func send<Lane: RingLane>(_ lane: Lane, range: Range<Int>, header: RingFrameHeader, own: Bool) throws(CollectiveError) {
        // A payload already in wire form is lent to the link rather than copied into the frame.
        if range.count * lane.elementBytes >= Self.lendingBytes, let payload = lane.wireBytes(range, own: own) {
            var head = [UInt8](repeating: 0, count: RingFrameHeader.size)
            head.withUnsafeMutableBytes { header.write(into: $0) }
            try link.send(header: head, lending: payload)
            return
        }
        let size = RingFrameHeader.size + range.count * lane.elementBytes
        var bytes = link.frameStorage(count: size)
        precondition(bytes.count == size, "the link lent \(bytes.count) bytes for a frame of \(size)")
        bytes.withUnsafeMutableBytes { raw in
            header.write(into: raw)
            let payload = UnsafeMutableRawBufferPointer(rebasing: raw[RingFrameHeader.size...])
            if own {
                lane.writeOwn(range, into: payload)
            } else {
                lane.write(range, into: payload)
            }
        }
        try link.send(bytes)
    }
}

/// One ring step of a member, numbered across both phases (`0..<2 * stepsPerPhase`).
private struct RingStep {
    var phase: RingPlan.Phase
    var step: Int
    var transfer: RingPlan.Transfer
    var sendFrames: Int
    var receiveFrames: Int
}

/// Where one streaming exchange stands: which frame goes out next, which comes in next, the
/// gathered frames waiting to be forwarded, and (with an observer) when each step started and
/// ended.
private struct StreamState {
    let steps: [RingStep]
    let totalSends: Int
    let totalReceives: Int
    /// Frames of the first step's chunk: send `k` past these waits for receive `k - firstFrames`.
    let firstFrames: Int
    private(set) var sent = 0
    private(set) var received = 0
    private(set) var sendCursor = (step: 0, frame: 0)
    private(set) var receiveCursor = (step: 0, frame: 0)
    private var forwards: [ReceivedFrame?] = []
    private var forwardHead = 0
    private let observed: Bool
    private var starts: [ContinuousClock.Instant?]
    private var ends: [ContinuousClock.Instant?]
    private var sentPerStep: [Int]
    private var receivedPerStep: [Int]

    init(steps: [RingStep], observed: Bool) {
        self.steps = steps
        totalSends = steps.reduce(0) { $0 + $1.sendFrames }
        totalReceives = steps.reduce(0) { $0 + $1.receiveFrames }
        firstFrames = steps.first?.sendFrames ?? 0
        self.observed = observed
        starts = Array(repeating: nil, count: observed ? steps.count : 0)
        ends = Array(repeating: nil, count: observed ? steps.count : 0)
        sentPerStep = Array(repeating: 0, count: observed ? steps.count : 0)
        receivedPerStep = Array(repeating: 0, count: observed ? steps.count : 0)
        sendCursor = Self.skipEmpty((0, 0), in: steps, frames: \.sendFrames)
        receiveCursor = Self.skipEmpty((0, 0), in: steps, frames: \.receiveFrames)
    }

    /// Whether the next send may go: its data is known (it is of the first chunk, or the frame it
    /// depends on has been received) and the window has room. Once everything is received, the
    /// rest goes regardless of the window.
    func canSend(window: Int) -> Bool {
        guard sent < totalSends else { return false }
        if received == totalReceives { return true }
        return sent < received + window && (sent < firstFrames || sent - firstFrames < received)
    }

    /// Moves past the frame just sent; returns its step if that ended the step.
    mutating func didSend() -> Int? {
        let step = sendCursor.step
        sent += 1
        sendCursor = Self.skipEmpty((step, sendCursor.frame + 1), in: steps, frames: \.sendFrames)
        guard observed else { return nil }
        sentPerStep[step] += 1
        return noteEnd(of: step)
    }

    /// Moves past the frame just received; returns its step if that ended the step.
    mutating func didReceive() -> Int? {
        let step = receiveCursor.step
        received += 1
        receiveCursor = Self.skipEmpty((step, receiveCursor.frame + 1), in: steps, frames: \.receiveFrames)
        guard observed else { return nil }
        receivedPerStep[step] += 1
        return noteEnd(of: step)
    }

    mutating func keepForForwarding(_ frame: ReceivedFrame) {
        forwards.append(frame)
    }

    /// The oldest gathered frame not yet forwarded; the exchange forwards them in the order they
    /// came, which is the order of its sends.
    mutating func takeForward() -> ReceivedFrame {
        precondition(forwardHead < forwards.count, "a gathered frame to forward was not received")
        let frame = forwards[forwardHead]!
        forwards[forwardHead] = nil  // released once the transport has sent it
        forwardHead += 1
        return frame
    }

    mutating func noteStart(of step: Int) {
        if observed && starts[step] == nil { starts[step] = .now }
    }

    /// A step ends when all its frames have gone out and come in; returns it then.
    private mutating func noteEnd(of step: Int) -> Int? {
        guard sentPerStep[step] == steps[step].sendFrames && receivedPerStep[step] == steps[step].receiveFrames else { return nil }
        ends[step] = .now
        return step
    }

    /// An ended step as the observer sees it. Steps overlap in time: that is the streaming.
    func transfer(_ index: Int, exponents: Bool) -> RingAllReduce.Transfer {
        let step = steps[index]
        let end = ends[index] ?? .now
        return RingAllReduce.Transfer(exponents: exponents, phase: step.phase, step: step.step, framesSent: step.sendFrames,
                                      start: starts[index] ?? end, end: end)
    }

    /// The first position at or after `position` that is a frame: steps with no frames (an empty
    /// chunk, when the vector is shorter than the ring) are skipped.
    private static func skipEmpty(
        _ position: (step: Int, frame: Int), in steps: [RingStep], frames: KeyPath<RingStep, Int>
    ) -> (step: Int, frame: Int) {
        var (step, frame) = position
        while step < steps.count && frame >= steps[step][keyPath: frames] {
            step += 1
            frame = 0
        }
        return (step, frame)
    }
}
