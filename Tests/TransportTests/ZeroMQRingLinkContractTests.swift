import Collective
import Core
import Testing
import Transport

/// The ZeroMQ ring links pass the same contract as the in-process links of CollectiveTests.
@Suite struct ZeroMQRingLinkContractTests {
    /// A member of a test ring: its own socket thread, closed together with the link, so that closing
    /// a member looks to its neighbours like a process that died.
    final class Member: ClosableRingLink, @unchecked Sendable {
        let loop: SocketLoop
        var link: ZeroMQRingLink!
        init(loop: SocketLoop) { self.loop = loop }
        var rank: Int { link.rank }
        var worldSize: Int { link.worldSize }
        func send(_ frame: [UInt8]) throws(CollectiveError) { try link.send(frame) }
        func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] { try link.receive(until: deadline) }
        // Every requirement goes to the ZeroMQ link itself, so the contract checks its own lent
        // receives, zero-copy forwarding and lent payloads rather than the protocol's defaults.
        func receiveFrame(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> ReceivedFrame { try link.receiveFrame(until: deadline) }
        func frameStorage(count: Int) -> [UInt8] { link.frameStorage(count: count) }
        func forward(_ frame: ReceivedFrame) throws(CollectiveError) { try link.forward(frame) }
        func send(header: [UInt8], lending payload: UnsafeRawBufferPointer) throws(CollectiveError) { try link.send(header: header, lending: payload) }
        func settle(until deadline: ContinuousClock.Instant) -> Bool { link.settle(until: deadline) }
        func keepUntilSettled(_ storage: Any) { link.keepUntilSettled(storage) }
        func dropUndecodable(_ frame: ReceivedFrame, reason: String) { link.dropUndecodable(frame, reason: reason) }
        var droppedFrames: Int { link.droppedFrames }
        func close() {
            link.close()
            loop.close()
        }
    }

    static func makeRing(_ n: Int) -> [any ClosableRingLink] {
        let members = (0..<n).map { _ in Member(loop: SocketLoop()) }
        let endpoints = members.map { try! $0.loop.bindRing(host: "127.0.0.1") }
        for (rank, member) in members.enumerated() {
            member.link = try! ZeroMQRingLink(loop: member.loop, generation: Generation(1), rank: rank, worldSize: n,
                                              next: endpoints[(rank + 1) % n])
        }
        return members
    }

    @Test func zeroMQLinksPassTheContract() {
        let failures = CollectiveLinkContract.run(makeRing: Self.makeRing, worldSizes: [2, 3])
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
