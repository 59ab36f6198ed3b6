import Collective
import Core
import Testing
@testable import Transport

/// Real ZeroMQ sockets over loopback TCP, within one process.
@Suite struct SocketLoopClusteredTests {
    @Test func controlMessagesGoBothWaysBetweenRouterAndDealer() throws {
        let coordinator = SocketLoop(), worker = SocketLoop()
        defer { worker.close(); coordinator.close() }
        let endpoint = try coordinator.bindControl("tcp://127.0.0.1:*")
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        try worker.connectControl(endpoint)
        worker.sendControl([1, 2, 3])
        guard case .item(let hello) = coordinator.control.pop(until: .now + .seconds(5)) else {
            Issue.record("the coordinator received nothing")
            return
        }
        #expect(hello.bytes == [1, 2, 3])
        #expect(!hello.peer.isEmpty)
        coordinator.sendControl([9], to: hello.peer)
        guard case .item(let reply) = worker.control.pop(until: .now + .seconds(5)) else {
            Issue.record("the worker received nothing")
            return
        }
        #expect(reply.bytes == [9])
    }

    @Test func aMessageToAnUnknownPeerIsDroppedNotFatal() throws {
        let coordinator = SocketLoop()
        defer { coordinator.close() }
        _ = try coordinator.bindControl("tcp://127.0.0.1:*")
        coordinator.sendControl([1], to: [0, 1, 2, 3, 4])
        #expect(coordinator.control.pop(until: .now + .milliseconds(100)).isTimedOut)
    }

    @Test func ringFramesOfOtherGenerationsAreFilteredAndNewerOnesKept() throws {
        let a = SocketLoop(), b = SocketLoop()
        defer { a.close(); b.close() }
        let endpointA = try a.bindRing(host: "127.0.0.1"), endpointB = try b.bindRing(host: "127.0.0.1")
        // a -> b: an old frame, the current one, then a frame of the next generation.
        let sender = try ZeroMQRingLink(loop: a, generation: Generation(5), rank: 0, worldSize: 2, next: endpointB)
        try ZeroMQRingLink(loop: a, generation: Generation(4), rank: 0, worldSize: 2, next: endpointB).send([0xEE])
        try sender.send([1, 2])
        try ZeroMQRingLink(loop: a, generation: Generation(6), rank: 0, worldSize: 2, next: endpointB).send([7])
        let receiver = try ZeroMQRingLink(loop: b, generation: Generation(5), rank: 1, worldSize: 2, next: endpointA)
        #expect(try receiver.receive(until: .now + .seconds(5)) == [1, 2])
        #expect(receiver.stale == 1)
        #expect(throws: CollectiveError.self) { try receiver.receive(until: .now + .seconds(5)) }
        let successor = try ZeroMQRingLink(loop: b, generation: Generation(6), rank: 1, worldSize: 2, next: endpointA)
        #expect(try successor.receive(until: .now + .seconds(5)) == [7], "the newer frame waited for its generation")
    }

    @Test func receiveHonoursItsDeadline() throws {
        let a = SocketLoop()
        defer { a.close() }
        let endpoint = try a.bindRing(host: "127.0.0.1")
        let link = try ZeroMQRingLink(loop: a, generation: Generation(1), rank: 0, worldSize: 1, next: endpoint)
        let start = ContinuousClock.now
        do {
            _ = try link.receive(until: .now + .milliseconds(200))
            Issue.record("received a frame nobody sent")
        } catch {
            guard case .timeout = error else { Issue.record("expected a timeout, got \(error)"); return }
        }
        let waited = start.duration(to: .now)
        #expect(waited >= .milliseconds(200) && waited < .seconds(2))
    }

    @Test func aNewerControlGenerationAbortsAWaitingReceive() throws {
        let coordinator = SocketLoop(), worker = SocketLoop()
        defer { worker.close(); coordinator.close() }
        let endpoint = try coordinator.bindControl("tcp://127.0.0.1:*")
        try worker.connectControl(endpoint)
        let ring = try worker.bindRing(host: "127.0.0.1")
        let link = try ZeroMQRingLink(loop: worker, generation: Generation(2), rank: 0, worldSize: 1, next: ring)
        worker.sendControl([0])
        guard case .item(let hello) = coordinator.control.pop(until: .now + .seconds(5)) else { Issue.record("no hello"); return }
        // A control frame whose envelope names generation 3 (bytes 8..<16).
        var frame = [UInt8](repeating: 0, count: 28)
        frame[8] = 3
        coordinator.sendControl(frame, to: hello.peer)
        let start = ContinuousClock.now
        #expect(throws: CollectiveError.self) { try link.receive(until: .now + .seconds(10)) }
        #expect(start.duration(to: .now) < .seconds(5))
    }
}

extension BlockingQueue.PopResult {
    var isTimedOut: Bool { if case .timedOut = self { true } else { false } }
}
