import Collective
import Core
import Foundation
import Testing
@testable import Transport

/// The sealed ring (AES-256-GCM per frame, a subkey per generation and collective) over
/// in-process links: it sums like the plain ring, and refuses a flipped bit, a replayed frame, a
/// frame of another generation or step, and a frame from a member that is not the previous one.
@Suite(.enabled(if: SealedRingLink.isAvailable)) struct SealedRingLinkTests {
    static let key = SealedRingLink.newKey()
    static var empty: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    static func pair(generation: UInt64 = 7, epoch: UInt64 = 3, receiverGeneration: UInt64? = nil, receiverEpoch: UInt64? = nil,
                     key receiverKey: [UInt8] = key) throws -> (raw: InProcessRingLink, sender: SealedRingLink, receiver: SealedRingLink) {
        let links = InProcessRing.make(worldSize: 2)
        let sender = try SealedRingLink(links[0], key: key, generation: generation, epoch: epoch)
        let receiver = try SealedRingLink(links[1], key: receiverKey, generation: receiverGeneration ?? generation,
                                          epoch: receiverEpoch ?? epoch)
        return (links[0], sender, receiver)
    }

    @Test func aRingOfThreeSumsExactlyAsThePlainRing() throws {
        let count = 50_000
        var inputs: [[Float]] = []
        for rank in 0..<3 {
            var values = [Float](repeating: 0, count: count)
            for i in 0..<count { values[i] = Float((i * 7 + rank * 13) % 101) / 8 }
            inputs.append(values)
        }
        var expected = [Float](repeating: 0, count: count)
        for i in 0..<count { expected[i] = inputs[0][i] + inputs[1][i] + inputs[2][i] }
        let vectors = inputs
        for mode in [ReduceMode.exact, .fp32] {
            let links = try InProcessRing.make(worldSize: 3).map { try SealedRingLink($0, key: Self.key, generation: 1, epoch: 9) }
            let results = Locked<[Int: [Float]]>([:])
            // One thread per member: a ring's members wait for each other (a pool of two threads
            // on two cores would never run the third).
            let done = DispatchGroup()
            for rank in 0..<3 {
                done.enter()
                Thread {
                    defer { done.leave() }
                    let reducer = try! RingAllReduce(link: links[rank], settings: AllReduceSettings(mode: mode, frameBytes: 16 << 10))
                    if case .sum(let values)? = try? reducer.sum(microBatches: [vectors[rank]], count: count, totalMicroBatches: 3) {
                        results.update { $0[rank] = values }
                    }
                }.start()
            }
            done.wait()
            #expect(results.value.count == 3, "\(mode)")
            for (_, values) in results.value { #expect(values == expected, "\(mode)") }
            #expect(links.allSatisfy { $0.rejected == 0 })
        }
    }

    /// Frames of 128 KiB go out with the collective's header apart, so every gathered frame opens
    /// straight into the result; the sums are still the plain ring's, in both modes that gather
    /// their own wire form, and with a ring of 4 whose gathered frames are also forwarded.
    @Test(arguments: [3, 4]) func gatheredFramesOpenStraightIntoTheResult(members: Int) throws {
        let count = 300_003
        var inputs: [[Float]] = []
        for rank in 0..<members {
            var values = [Float](repeating: 0, count: count)
            for i in 0..<count { values[i] = Float((i * 7 + rank * 13) % 101) / 8 }
            inputs.append(values)
        }
        var expected = [Float](repeating: 0, count: count)
        for values in inputs { for i in 0..<count { expected[i] += values[i] } }
        let vectors = inputs
        for mode in [ReduceMode.exact, .fp32] {
            let links = try InProcessRing.make(worldSize: members).map { try SealedRingLink($0, key: Self.key, generation: 1, epoch: 9) }
            let results = Locked<[Int: [Float]]>([:])
            let done = DispatchGroup()
            for rank in 0..<members {
                done.enter()
                Thread {
                    defer { done.leave() }
                    let reducer = try! RingAllReduce(link: links[rank], settings: AllReduceSettings(mode: mode, frameBytes: 128 << 10))
                    if case .sum(let values)? = try? reducer.sum(microBatches: [vectors[rank]], count: count, totalMicroBatches: members) {
                        results.update { $0[rank] = values }
                    }
                }.start()
            }
            done.wait()
            #expect(results.value.count == members, "\(mode)")
            for (_, values) in results.value { #expect(values == expected, "\(mode)") }
            #expect(links.allSatisfy { $0.rejected == 0 })
            // Every member gathers members - 1 chunks of about 3 frames each, and sends its own
            // chunk's frames as they were sealed ahead (fp32 lends them, exact's are encoded
            // into the frame on the sealing thread).
            #expect(links.allSatisfy { $0.placed >= 2 * (members - 1) }, "\(links.map(\.placed))")
            #expect(links.allSatisfy { $0.sentAhead >= 3 }, "\(mode): \(links.map(\.sentAhead))")
        }
    }

    /// Prepared frames are sealed on another thread under the next counters, in order — lent
    /// ones read where they lie, written ones written into the frame — and go out one by one:
    /// the receiver opens each once, in order; a send after them is numbered after them, and a
    /// send before them is refused.
    @Test func preparedFramesAreSealedAheadInOrder() throws {
        let (_, sender, receiver) = try Self.pair()
        let bodies = (0..<6).map { k in [UInt8](repeating: UInt8(k), count: 4096) }
        let heads = (0..<6).map { k in [UInt8]([UInt8(k), 1, 2, 3]) }
        try bodies.withUnsafeBufferPointers { payloads in
            let frames = (0..<6).map { k in
                k % 2 == 0 ? PreparedSend(header: heads[k], payload: .lent(payloads[k]))
                    : PreparedSend(header: heads[k], payload: .written(count: 4096) { $0.copyMemory(from: payloads[k]) })
            }
            #expect(sender.prepareSends(frames))
            #expect(throws: CollectiveError.self) { try sender.send([1]) }
            for _ in 0..<6 { try sender.sendPrepared() }
            #expect(throws: CollectiveError.self) { try sender.sendPrepared() }
            #expect(sender.settle(until: .now + .seconds(5)))
        }
        try sender.send([42])
        for k in 0..<6 { #expect(try receiver.receive(until: .now + .seconds(2)) == heads[k] + bodies[k]) }
        #expect(try receiver.receive(until: .now + .seconds(2)) == [42])
        #expect(sender.sentAhead == 6)
        #expect(receiver.rejected == 0)
    }

    /// A stranger's frame with the very head the receiver expects is opened into the destination
    /// too, and refused there: what it wrote is overwritten by the genuine frame, the only one
    /// returned as placed.
    @Test func aForgedFrameWithTheExpectedHeadLeavesNothingInTheDestination() throws {
        let (raw, sender, receiver) = try Self.pair()
        let forger = try SealedRingLink(InProcessRing.make(worldSize: 2)[0], key: SealedRingLink.newKey(), generation: 7, epoch: 3)
        let head: [UInt8] = [7, 7, 7, 7]
        let forged = [UInt8](repeating: 0xEE, count: 4096)
        let genuine = (0..<4096).map { UInt8($0 % 251) }
        try raw.send(head.withUnsafeBytes { h in forged.withUnsafeBytes { forger.seal(head: h, body: $0) } })
        try sender.send(header: head, lending: genuine.withUnsafeBytes { $0 })
        var destination = [UInt8](repeating: 0, count: 4096)
        let frame = try destination.withUnsafeMutableBytes { place in
            try receiver.receiveFrame(until: .now + .seconds(2), placing: PayloadPlacement(headBytes: 4, destination: place) { Array($0) == head })
        }
        #expect(frame.placedPayloadBytes == 4096)
        #expect(frame.head == head)
        #expect(destination == genuine)
        #expect(receiver.rejected == 1)
        #expect(receiver.placed == 1)
    }

    /// A frame whose head is not the one expected, or whose body is not the destination's size,
    /// opens into a buffer of its own: the destination is not touched.
    @Test func aFrameNotExpectedThereOpensIntoItsOwnBuffer() throws {
        let (_, sender, receiver) = try Self.pair()
        let body = [UInt8](repeating: 0x5A, count: 2048)
        try sender.send(header: [1, 2, 3, 4], lending: body.withUnsafeBytes { $0 })
        try sender.send(header: [9, 9, 9, 9], lending: body.withUnsafeBytes { $0 })
        var destination = [UInt8](repeating: 0, count: 1024)
        for head: [UInt8] in [[1, 2, 3, 4], [9, 9, 9, 9]] {
            let frame = try destination.withUnsafeMutableBytes { place in
                // The first is of the wrong size, the second has a head the placement refuses.
                try receiver.receiveFrame(until: .now + .seconds(2), placing: PayloadPlacement(headBytes: 4, destination: place) { Array($0) == [1, 2, 3, 4] })
            }
            #expect(frame.placedPayloadBytes == 0)
            #expect(frame.bytes == head + body)
        }
        #expect(destination.allSatisfy { $0 == 0 })
        #expect(receiver.placed == 0)
    }

    @Test func aFlippedBitIsDroppedAndCountedAndTheNextFrameStillArrives() throws {
        let (raw, sender, receiver) = try Self.pair()
        for byte in [0, 5, 10, 40, 16 + 100 + 15] {  // head count, rank, counter, ciphertext, tag
            var sealed = [UInt8](1...100).withUnsafeBytes { sender.seal(head: Self.empty, body: $0) }
            sealed[byte] ^= 0x01
            try raw.send(sealed)
        }
        try sender.send([9, 8, 7])
        #expect(try receiver.receive(until: .now + .seconds(2)) == [9, 8, 7])
        #expect(receiver.rejected == 5)
        #expect(receiver.droppedFrames == 5)
        #expect(receiver.lastRejection != nil)
    }

    /// A peer that never stops sending frames that do not open cannot keep a receive waiting
    /// past its deadline: the wait ends with a timeout, every frame refused.
    @Test func aFloodOfForgedFramesDoesNotHoldTheWaitPastItsDeadline() throws {
        let (raw, _, receiver) = try Self.pair()
        let forger = try SealedRingLink(InProcessRing.make(worldSize: 2)[0], key: SealedRingLink.newKey(), generation: 7, epoch: 3)
        let stop = Locked(false)
        let flooding = Thread {
            while !stop.value { try? raw.send([UInt8](repeating: 1, count: 64).withUnsafeBytes { forger.seal(head: Self.empty, body: $0) }) }
        }
        flooding.start()
        defer { stop.value = true }
        let started = ContinuousClock.now
        #expect(throws: CollectiveError.self) { try receiver.receive(until: .now + .milliseconds(100)) }
        #expect(started.duration(to: .now) < .seconds(10), "the wait outlived its deadline by far")
        #expect(receiver.rejected > 0)
    }

    @Test func aReplayedFrameIsRefused() throws {
        let (raw, sender, receiver) = try Self.pair()
        let sealed = [UInt8](repeating: 0x42, count: 64).withUnsafeBytes { sender.seal(head: Self.empty, body: $0) }
        try raw.send(sealed)
        try raw.send(sealed)
        #expect(try receiver.receive(until: .now + .seconds(2)) == [UInt8](repeating: 0x42, count: 64))
        #expect(throws: CollectiveError.self) { try receiver.receive(until: .now + .milliseconds(200)) }
        #expect(receiver.rejected == 1)
        #expect(receiver.lastRejection?.contains("again") == true, "\(receiver.lastRejection ?? "")")
    }

    @Test func framesOfAnotherGenerationStepOrKeyDoNotOpen() throws {
        for (generation, epoch, key) in [(UInt64(8), UInt64(3), Self.key), (7, 4, Self.key), (7, 3, SealedRingLink.newKey())] {
            let (_, sender, receiver) = try Self.pair(receiverGeneration: generation, receiverEpoch: epoch, key: key)
            try sender.send([1, 2, 3, 4])
            #expect(throws: CollectiveError.self) { try receiver.receive(until: .now + .milliseconds(200)) }
            #expect(receiver.rejected == 1, "generation \(generation), step \(epoch)")
            #expect(receiver.lastRejection?.contains("does not authenticate") == true)
        }
    }

    @Test func onlyAnotherMemberOfTheRingMaySeal() throws {
        let links = InProcessRing.make(worldSize: 3)
        let receiver = try SealedRingLink(links[1], key: Self.key, generation: 1, epoch: 1)
        // Rank 0's link delivers to rank 1: a frame claiming rank 1 itself is refused there.
        let impostor = try SealedRingLink(InProcessRing.make(worldSize: 3)[1], key: Self.key, generation: 1, epoch: 1)
        try links[0].send([UInt8]([5]).withUnsafeBytes { impostor.seal(head: Self.empty, body: $0) })
        #expect(throws: CollectiveError.self) { try receiver.receive(until: .now + .milliseconds(200)) }
        #expect(receiver.lastRejection?.contains("not by another member of this ring of 3") == true, "\(receiver.lastRejection ?? "")")
        // So is one claiming a rank beyond the ring.
        let outsider = try SealedRingLink(InProcessRing.make(worldSize: 5)[4], key: Self.key, generation: 1, epoch: 1)
        try links[0].send([UInt8]([6]).withUnsafeBytes { outsider.seal(head: Self.empty, body: $0) })
        #expect(throws: CollectiveError.self) { try receiver.receive(until: .now + .milliseconds(200)) }
        #expect(receiver.rejected == 2)
    }

    /// The all-gather forwards a frame as its maker sealed it: the next member opens it under the
    /// maker's rank and counter, and refuses it when it comes again.
    @Test func aForwardedFrameGoesOnAsItsMakerSealedItAndOpensOnce() throws {
        let links = InProcessRing.make(worldSize: 3)
        let sealed = try links.map { try SealedRingLink($0, key: Self.key, generation: 2, epoch: 5) }
        let body = [UInt8](repeating: 0x33, count: 64 << 10)
        try sealed[0].send(header: [1, 2, 3], lending: body.withUnsafeBytes { $0 })
        let atOne = try sealed[1].receiveFrame(until: .now + .seconds(2))
        #expect(atOne.bytes == [1, 2, 3] + body)
        try sealed[1].forward(atOne)
        let raw = try links[2].receiveFrame(until: .now + .seconds(2))
        // Rank 0's seal, byte for byte: head count, head, then rank 0 and its first counter.
        #expect(raw.bytes.prefix(19) == [3, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
        try links[1].send(raw.bytes)
        try links[1].send(raw.bytes)
        #expect(try sealed[2].receive(until: .now + .seconds(2)) == [1, 2, 3] + body)
        #expect(throws: CollectiveError.self) { try sealed[2].receive(until: .now + .milliseconds(200)) }
        #expect(sealed[2].lastRejection?.contains("frame 1 of rank 0 again") == true, "\(sealed[2].lastRejection ?? "")")
    }

    @Test func aKeyOfTheWrongSizeIsRefused() {
        #expect(throws: SecurityError.self) { try SealedRingLink(InProcessRing.make(worldSize: 1)[0], key: [1, 2, 3], generation: 1, epoch: 1) }
    }
}

private extension Array where Element == [UInt8] {
    /// Calls `body` with every array's bytes, all valid at once.
    func withUnsafeBufferPointers<R>(_ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
        func nest(_ index: Int, _ done: [UnsafeRawBufferPointer]) throws -> R {
            guard index < count else { return try body(done) }
            return try self[index].withUnsafeBytes { try nest(index + 1, done + [$0]) }
        }
        return try nest(0, [])
    }
}
