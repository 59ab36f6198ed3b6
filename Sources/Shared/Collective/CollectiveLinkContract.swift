import Core

/// The behaviour every `RingLink` implementation must have, as runnable checks. `InProcessRing`
/// passes it in CollectiveTests; the transport's tests run it on ZeroMQ links.
///
/// Each check builds fresh rings through the factory, drives every member from its own thread,
/// closes every link it built, and returns what went wrong as readable strings (empty = pass), so
/// any test framework can assert on it.
public enum CollectiveLinkContract {
    /// Builds a connected ring: element `r` must have rank `r` and the given world size.
    public typealias RingFactory = (_ worldSize: Int) -> [any ClosableRingLink]

    /// Runs every check below for every world size.
    ///
    /// - Parameters:
    ///   - worldSizes: rings to build. A ring of one is checked only by `checkAllReduce`, which
    ///     never sends on it; leave 1 out if the transport cannot build such a ring.
    ///   - timeout: the short receive deadline the timeout and closing checks use.
    ///   - tolerance: how late past a deadline a `.timeout` may arrive on a loaded machine.
    public static func run(
        makeRing: RingFactory, worldSizes: [Int] = [1, 2, 3], timeout: Duration = .milliseconds(300),
        tolerance: Duration = .seconds(1)
    ) -> [String] {
        var failures: [String] = []
        for n in worldSizes where n >= 2 {
            failures += checkFIFO(makeRing: makeRing, worldSize: n)
            failures += checkLargeAndEmptyFrames(makeRing: makeRing, worldSize: n)
            failures += checkReusedFrameStorage(makeRing: makeRing, worldSize: n)
            failures += checkForward(makeRing: makeRing, worldSize: n)
            failures += checkLentPayloads(makeRing: makeRing, worldSize: n)
            failures += checkTimeout(makeRing: makeRing, worldSize: n, timeout: timeout, tolerance: tolerance)
            failures += checkClosed(makeRing: makeRing, worldSize: n, timeout: timeout, tolerance: tolerance)
        }
        for n in worldSizes {
            failures += checkAllReduce(makeRing: makeRing, worldSize: n)
        }
        for n in worldSizes where n >= 2 {
            failures += checkUndecodableFramesAreDropped(makeRing: makeRing, worldSize: n)
        }
        return failures
    }

    /// Frames that are not all-reduce frames — 100 random bytes, a frame shorter than a header,
    /// a header whose payload is shorter than its element count says — reach rank 1 ahead of an
    /// all-reduce: the all-reduce still completes with the right sum on every member, and rank 1's
    /// link counts exactly those frames in `droppedFrames`.
    public static func checkUndecodableFramesAreDropped(makeRing: RingFactory, worldSize n: Int) -> [String] {
        var random = SplitMix64(seed: 0x6761_7262_6167_65)
        let garbage = (0..<100).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        var truncated = [UInt8](repeating: 0, count: RingFrameHeader.size + 8)
        truncated.withUnsafeMutableBytes {
            RingFrameHeader(mode: .exact, stage: .values, phase: .reduceScatter, sequence: 40, step: 0, chunk: 0, frame: 0,
                            elements: 1000, vectorLength: 10_007, parameter: 0, frameCapacity: 64).write(into: $0)
        }
        let noise = [garbage, [0x47, 0x52], truncated]
        let round = ReduceReference.synthetic(count: 10_007, microBatches: n + 1, seed: 11)
        var failures: [String] = []
        for mode in ReduceMode.allCases {
            let settings = AllReduceSettings(mode: mode, frameBytes: 4096, window: 3, timeout: .seconds(20))
            let links = makeRing(n)
            defer { links.forEach { $0.close() } }
            let outcomes = RingThreads.run(n, until: .now + .seconds(120)) { rank -> Result<ReduceOutcome, CollectiveError> in
                do throws(CollectiveError) {
                    if rank == 0 { for frame in noise { try links[0].send(frame) } }
                    let reducer = try! RingAllReduce(link: links[rank], settings: settings, firstSequence: 40)
                    let mine = round.deal((0..<round.microBatches.count).map { $0 % n }, worldSize: n)[rank]
                    return .success(try reducer.sum(microBatches: mine, count: round.count,
                                                    totalMicroBatches: round.microBatches.count, lossScale: 16))
                } catch {
                    return .failure(error)
                }
            }
            var results: [ReduceOutcome] = []
            for (rank, outcome) in outcomes.enumerated() {
                switch outcome {
                case nil: failures.append("undecodable frames \(mode) (world size \(n)): rank \(rank) did not finish")
                case .failure(let error)?: failures.append("undecodable frames \(mode) (world size \(n)): rank \(rank) threw \(error)")
                case .success(let got)?: results.append(got)
                }
            }
            guard results.count == n else { continue }
            if results.contains(where: { $0 != results[0] }) {
                failures.append("undecodable frames \(mode) (world size \(n)): members disagree")
            }
            if let values = results[0].values, let violation = round.firstViolation(of: values, mode: mode, worldSize: n, lossScale: 16) {
                failures.append("undecodable frames \(mode) (world size \(n)): \(violation)")
            }
            if links[1].droppedFrames != noise.count {
                failures.append("undecodable frames \(mode) (world size \(n)): rank 1 counted \(links[1].droppedFrames) dropped frames, expected \(noise.count)")
            }
        }
        return failures
    }

    /// Frames a link must accept without its peer receiving any: the all-reduce sends at most
    /// `window + 1` ahead (5 with the default window), and this leaves one to spare.
    public static let queuedFramesRequired = 6

    /// Every member sends 200 frames of varied length in bursts of `queuedFramesRequired`,
    /// receiving a burst after sending one (alternately with `receive` and `receiveFrame`): each
    /// frame must come from the previous rank, complete, and in the order sent.
    public static func checkFIFO(makeRing: RingFactory, worldSize n: Int) -> [String] {
        let frames = 200
        @Sendable func frame(from rank: Int, index: Int) -> [UInt8] {
            [UInt8(rank), UInt8(index & 255), UInt8(index >> 8)] + (0..<(index % 37)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
        }
        return onRing(makeRing, n, "FIFO") { (link) throws(CollectiveError) in
            let previous = (link.rank - 1 + n) % n
            for burst in stride(from: 0, to: frames, by: queuedFramesRequired) {
                let indices = burst..<min(burst + queuedFramesRequired, frames)
                for i in indices { try link.send(frame(from: link.rank, index: i)) }
                for i in indices {
                    // Both ways of receiving, alternately: they share one FIFO.
                    let got = i % 2 == 0 ? try link.receive(until: .now + .seconds(10))
                        : try link.receiveFrame(until: .now + .seconds(10)).bytes
                    if got != frame(from: previous, index: i) {
                        return "rank \(link.rank) frame \(i): got \(got.prefix(3)) (\(got.count) bytes), expected frame \(i) of rank \(previous)"
                    }
                }
            }
            return nil
        }
    }

    /// Empty frames, a one-byte frame and a frame of 4 MiB + 48 bytes (a full frame with header)
    /// arrive intact and in order.
    public static func checkLargeAndEmptyFrames(makeRing: RingFactory, worldSize n: Int) -> [String] {
        @Sendable func frames(from rank: Int) -> [[UInt8]] {
            // Marked every 4 KiB rather than byte by byte: cheap to build in a debug build, and a
            // truncated, reordered or misrouted large frame still fails the comparison.
            var large = [UInt8](repeating: UInt8(truncatingIfNeeded: rank), count: (4 << 20) + 48)
            for page in stride(from: 0, to: large.count, by: 4096) { large[page] = UInt8(truncatingIfNeeded: page >> 12) }
            large[large.count - 1] = 0xA5
            return [[], large, [], [UInt8(rank)], []]
        }
        return onRing(makeRing, n, "large and empty frames") { (link) throws(CollectiveError) in
            for frame in frames(from: link.rank) { try link.send(frame) }
            let expected = frames(from: (link.rank - 1 + n) % n)
            for (i, want) in expected.enumerated() {
                let got = try link.receive(until: .now + .seconds(20))
                if got != want { return "rank \(link.rank) frame \(i): got \(got.count) bytes, expected \(want.count) bytes (or different content)" }
            }
            return nil
        }
    }

    /// Frames built in `frameStorage` arrays, several rounds of them: a transport that recycles
    /// the arrays it has sent must never let a new frame change one still on its way, nor deliver
    /// stale contents.
    public static func checkReusedFrameStorage(makeRing: RingFactory, worldSize n: Int) -> [String] {
        let size = (256 << 10) + 48
        @Sendable func fill(_ frame: inout [UInt8], rank: Int, round: Int, index: Int) {
            let mark = UInt8(truncatingIfNeeded: rank &* 31 &+ round &* 7 &+ index)
            frame.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: mark) }
            frame[0] = UInt8(truncatingIfNeeded: round)
            frame[size - 1] = UInt8(truncatingIfNeeded: index)
        }
        return onRing(makeRing, n, "reused frame storage") { (link) throws(CollectiveError) in
            let previous = (link.rank - 1 + n) % n
            for round in 0..<5 {
                for index in 0..<queuedFramesRequired {
                    var frame = link.frameStorage(count: size)
                    if frame.count != size { return "rank \(link.rank): frameStorage gave \(frame.count) bytes, asked \(size)" }
                    fill(&frame, rank: link.rank, round: round, index: index)
                    try link.send(frame)
                }
                for index in 0..<queuedFramesRequired {
                    var want = [UInt8](repeating: 0, count: size)
                    fill(&want, rank: previous, round: round, index: index)
                    let got = try link.receiveFrame(until: .now + .seconds(20))
                    let same = got.withUnsafeBytes { $0.elementsEqual(want) }
                    if !same { return "rank \(link.rank) round \(round) frame \(index): \(got.count) bytes, not the frame sent" }
                }
            }
            return nil
        }
    }

    /// Rank 0 sends frames of several sizes (empty, small, 300 KiB); every other member forwards
    /// each frame it receives with `forward`, so they come back to rank 0 around the ring, byte
    /// for byte and in order.
    public static func checkForward(makeRing: RingFactory, worldSize n: Int) -> [String] {
        @Sendable func frames() -> [[UInt8]] {
            (0..<queuedFramesRequired).map { index in
                let size = [0, 7, 300 << 10][index % 3] + index
                return (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ index) }
            }
        }
        return onRing(makeRing, n, "forward") { (link) throws(CollectiveError) in
            let expected = frames()
            if link.rank == 0 {
                for frame in expected { try link.send(frame) }
                for (i, want) in expected.enumerated() {
                    let got = try link.receiveFrame(until: .now + .seconds(20))
                    if got.bytes != want { return "rank 0 frame \(i): \(got.count) bytes came back, \(want.count) sent (or different content)" }
                }
            } else {
                for _ in expected { try link.forward(try link.receiveFrame(until: .now + .seconds(20))) }
            }
            return nil
        }
    }

    /// Every member sends frames whose payload it lends (`send(header:lending:)`: empty, small
    /// and 300 KiB), interleaved with plain ones: each arrives as one frame, header then payload,
    /// in order, and forwarded on unchanged (the all-gather's path); `settle` then returns true,
    /// after which the lender may overwrite its memory without any frame changing.
    public static func checkLentPayloads(makeRing: RingFactory, worldSize n: Int) -> [String] {
        let sizes = [0, 7, 300 << 10, 64 << 10, 5]
        @Sendable func header(_ rank: Int, _ index: Int) -> [UInt8] { [UInt8(rank), UInt8(index), 0xA5] }
        @Sendable func payload(_ rank: Int, _ index: Int) -> [UInt8] {
            (0..<sizes[index]).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index &+ rank) }
        }
        return onRing(makeRing, n, "lent payloads") { (link) throws(CollectiveError) in
            let previous = (link.rank - 1 + n) % n
            var buffers = sizes.indices.map { payload(link.rank, $0) }
            for index in sizes.indices {
                var failure: CollectiveError?
                buffers[index].withUnsafeBytes { raw in
                    do throws(CollectiveError) { try link.send(header: header(link.rank, index), lending: raw) } catch { failure = error }
                }
                if let failure { throw failure }
                try link.send([UInt8(link.rank), 0xEE])
            }
            var received: [ReceivedFrame] = []
            for index in sizes.indices {
                let frame = try link.receiveFrame(until: .now + .seconds(20))
                if frame.bytes != header(previous, index) + payload(previous, index) {
                    return "rank \(link.rank) lent frame \(index): \(frame.count) bytes, expected \(3 + sizes[index]) from rank \(previous)"
                }
                received.append(frame)
                let plain = try link.receive(until: .now + .seconds(20))
                if plain != [UInt8(previous), 0xEE] { return "rank \(link.rank): plain frame after lent frame \(index) is \(plain)" }
            }
            guard link.settle(until: .now + .seconds(20)) else { return "rank \(link.rank): lent payloads not released within 20 s" }
            for index in buffers.indices { for i in buffers[index].indices { buffers[index][i] = 0 } }
            // Received frames keep their bytes after the sender reused its memory, and go on intact.
            for frame in received { try link.forward(frame) }
            let twoBack = (link.rank - 2 + 2 * n) % n
            for index in sizes.indices {
                let frame = try link.receiveFrame(until: .now + .seconds(20))
                if frame.bytes != header(twoBack, index) + payload(twoBack, index) {
                    return "rank \(link.rank) forwarded lent frame \(index): \(frame.count) bytes, expected \(3 + sizes[index]) from rank \(twoBack)"
                }
            }
            return nil
        }
    }

    /// A receive with nothing sent throws `.timeout` naming the member's rank, no earlier than the
    /// deadline and no later than `tolerance` after it.
    public static func checkTimeout(makeRing: RingFactory, worldSize n: Int, timeout: Duration, tolerance: Duration) -> [String] {
        let links = makeRing(n)
        defer { links.forEach { $0.close() } }
        let link = links[n - 1]
        let start = ContinuousClock.now
        do {
            let got = try link.receive(until: start + timeout)
            return ["timeout (world size \(n)): receive returned \(got.count) bytes though nothing was sent"]
        } catch {
            let elapsed = ContinuousClock.now - start
            guard case .timeout(let rank, _) = error else { return ["timeout (world size \(n)): threw \(error), expected a timeout"] }
            var failures: [String] = []
            if rank != link.rank { failures.append("timeout (world size \(n)): error names rank \(rank), expected \(link.rank)") }
            if elapsed < timeout { failures.append("timeout (world size \(n)): gave up after \(elapsed), before the \(timeout) deadline") }
            if elapsed > timeout + tolerance { failures.append("timeout (world size \(n)): gave up after \(elapsed), more than \(tolerance) past the \(timeout) deadline") }
            return failures
        }
    }

    /// After `close()` a member's own send and receive throw `.closed` at once; its next rank's
    /// receive ends in `.closed` or `.timeout` by its deadline (plus tolerance); its previous rank
    /// can still call send without hanging.
    public static func checkClosed(makeRing: RingFactory, worldSize n: Int, timeout: Duration, tolerance: Duration) -> [String] {
        let links = makeRing(n)
        defer { links.forEach { $0.close() } }
        var failures: [String] = []
        let dead = links[0]
        dead.close()
        do {
            try dead.send([1, 2, 3])
            failures.append("closed (world size \(n)): send on a closed link succeeded")
        } catch {
            if case .closed = error {} else { failures.append("closed (world size \(n)): send threw \(error), expected closed") }
        }
        let start = ContinuousClock.now
        do {
            _ = try dead.receive(until: start + timeout)
            failures.append("closed (world size \(n)): receive on a closed link returned a frame")
        } catch {
            if case .closed = error {} else { failures.append("closed (world size \(n)): receive threw \(error), expected closed") }
            if ContinuousClock.now - start >= timeout { failures.append("closed (world size \(n)): receive on a closed link waited for its deadline") }
        }
        let next = links[1 % n]
        let neighbourStart = ContinuousClock.now
        do {
            _ = try next.receive(until: neighbourStart + timeout)
            failures.append("closed (world size \(n)): rank 1 received a frame from the closed rank 0")
        } catch {
            switch error {
            case .closed, .timeout: break
            case .malformed, .superseded: failures.append("closed (world size \(n)): rank 1 threw \(error), expected closed or timeout")
            }
            if ContinuousClock.now - neighbourStart > timeout + tolerance {
                failures.append("closed (world size \(n)): rank 1 waited more than \(tolerance) past its deadline")
            }
        }
        let previous = links[n - 1]
        let sendResult = RingThreads.run(1, until: .now + timeout + tolerance) { _ in
            do { try previous.send([9]); return true } catch { return true }
        }
        if sendResult[0] == nil { failures.append("closed (world size \(n)): rank \(n - 1)'s send to the closed rank 0 hung") }
        return failures
    }

    /// A full all-reduce in every mode, twice in a row (the sequence number advances), with small
    /// frames and a length that divides evenly into nothing: every member gets the same outcome,
    /// within the mode's bound of the float64 sum, and `exact` equals a ring of one bit for bit.
    /// A second shape has frames large enough to be lent (one micro-batch per member, so that
    /// `fp32` and `exact` send straight from the caller's and the ring's own memory).
    public static func checkAllReduce(makeRing: RingFactory, worldSize n: Int) -> [String] {
        var failures: [String] = []
        for (count, frameBytes, shapes) in [(10_007, 4096 + 12, [2 * n + 1, max(1, n - 1)]), (90_001, (96 << 10) + 4, [n, n])] {
        for mode in ReduceMode.allCases {
            let rounds = shapes.enumerated().map { ReduceReference.synthetic(count: count, microBatches: $1, seed: UInt64(7 + $0)) }
            let lossScale: Float = 16
            let settings = AllReduceSettings(mode: mode, frameBytes: frameBytes, window: 3, timeout: .seconds(20))
            let links = makeRing(n)
            defer { links.forEach { $0.close() } }
            let outcomes = RingThreads.run(n, until: .now + .seconds(120)) { rank -> Result<[ReduceOutcome], CollectiveError> in
                do throws(CollectiveError) {
                    let reducer = try! RingAllReduce(link: links[rank], settings: settings, firstSequence: 40)
                    return .success(try rounds.map { (round) throws(CollectiveError) in
                        let mine = round.deal((0..<round.microBatches.count).map { $0 % n }, worldSize: n)[rank]
                        return try reducer.sum(microBatches: mine, count: count, totalMicroBatches: round.microBatches.count, lossScale: lossScale)
                    })
                } catch {
                    return .failure(error)
                }
            }
            var results: [[ReduceOutcome]] = []
            for (rank, outcome) in outcomes.enumerated() {
                switch outcome {
                case nil: failures.append("all-reduce \(mode) (world size \(n)): rank \(rank) did not finish")
                case .failure(let error)?: failures.append("all-reduce \(mode) (world size \(n)): rank \(rank) threw \(error)")
                case .success(let got)?: results.append(got)
                }
            }
            guard results.count == n else { continue }
            if results.contains(where: { $0 != results[0] }) {
                failures.append("all-reduce \(mode) (world size \(n)): members disagree")
            }
            for (r, round) in rounds.enumerated() {
                guard let values = results[0][r].values else {
                    failures.append("all-reduce \(mode) (world size \(n)) round \(r): overflow reported for finite data")
                    continue
                }
                if let violation = round.firstViolation(of: values, mode: mode, worldSize: n, lossScale: lossScale) {
                    failures.append("all-reduce round \(r): \(violation)")
                }
                if mode == .exact, let single = singleMemberExact(round), single != values {
                    failures.append("all-reduce exact (world size \(n)) round \(r): differs from a ring of one")
                }
            }
        }
        }
        return failures
    }

    /// The `exact` sum of all of `round`'s micro-batches on a ring of one in-process member.
    static func singleMemberExact(_ round: ReduceReference) -> [Float]? {
        let reducer = try! RingAllReduce(link: InProcessRing.make(worldSize: 1)[0], settings: AllReduceSettings(mode: .exact))
        let outcome = try? reducer.sum(microBatches: round.microBatches, count: round.count, totalMicroBatches: round.microBatches.count)
        return outcome?.values
    }

    /// Runs `body` on every member of a fresh ring; a thrown error or returned string is a failure.
    private static func onRing(
        _ makeRing: RingFactory, _ n: Int, _ name: String,
        _ body: @escaping @Sendable (any ClosableRingLink) throws(CollectiveError) -> String?
    ) -> [String] {
        let links = makeRing(n)
        defer { links.forEach { $0.close() } }
        let outcomes = RingThreads.run(n, until: .now + .seconds(60)) { rank -> String? in
            do throws(CollectiveError) {
                return try body(links[rank])
            } catch {
                return "rank \(rank) threw \(error)"
            }
        }
        return outcomes.enumerated().compactMap { rank, outcome in
            guard let outcome else { return "\(name) (world size \(n)): rank \(rank) did not finish" }
            return outcome.map { "\(name) (world size \(n)): \($0)" }
        }
    }
}
