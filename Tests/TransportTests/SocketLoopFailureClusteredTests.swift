import CZeroMQ
import Collective
import Core
import Foundation
import Testing
@testable import Transport

/// Addresses the system refuses end in an error naming them, and the socket thread still closes:
/// before, the socket created for a failed bind stayed open and `close` waited forever.
@Suite struct SocketLoopFailureClusteredTests {
    /// Runs `body` on its own thread; nil if it did not return within `limit` (it is left behind).
    func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () -> T) -> T? {
        let result = Locked<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            result.value = body()
            done.signal()
        }.start()
        return done.wait(timeout: .now() + limit.inSeconds) == .success ? result.value : nil
    }

    @Test func aPortInUseIsNamedAndTheLoopStillCloses() throws {
        let owner = SocketLoop()
        defer { owner.close() }
        let taken = try owner.bindControl("tcp://127.0.0.1:*")
        let message = within(.seconds(10)) { () -> String in
            let second = SocketLoop()
            defer { second.close() }
            do {
                _ = try second.bindControl(taken, origin: "coordinator.port")
                return "bound twice"
            } catch {
                return "\(error)"
            }
        }
        let text = try #require(message, "bind or close hung")
        #expect(text.contains(taken), "\(text)")
        #expect(text.contains("coordinator.port"), "\(text)")
        #expect(text.contains("already listens"), "\(text)")
    }

    @Test func anAddressOfAnotherMachineIsNamedAndTheLoopStillCloses() throws {
        // 203.0.113.0/24 is TEST-NET-3: never an address of this machine, so the bind fails
        // locally (EADDRNOTAVAIL) and nothing is sent anywhere.
        let messages = within(.seconds(10)) { () -> [String] in
            let loop = SocketLoop()
            defer { loop.close() }
            var messages: [String] = []
            do { _ = try loop.bindControl("tcp://203.0.113.7:7070", origin: "coordinator.bind") } catch { messages.append("\(error)") }
            do { _ = try loop.bindRing(host: "203.0.113.7", origin: "--bind") } catch { messages.append("\(error)") }
            return messages
        }
        let texts = try #require(messages, "bind or close hung")
        #expect(texts.count == 2)
        for text in texts {
            #expect(text.contains("203.0.113.7"), "\(text)")
            #expect(text.contains("not one of this machine's"), "\(text)")
        }
        #expect(texts.first?.contains("coordinator.bind") == true)
        #expect(texts.last?.contains("--bind") == true)
    }

    @Test func aMalformedAddressIsRefusedBeforeAnySocket() throws {
        let text = within(.seconds(10)) { () -> String in
            let loop = SocketLoop()
            defer { loop.close() }
            do {
                try loop.connectControl("127.0.0.1:7070", origin: "--coordinator")
                return "connected"
            } catch {
                return "\(error)"
            }
        }
        let message = try #require(text, "connect or close hung")
        #expect(message.contains("--coordinator: '127.0.0.1:7070' does not start with tcp://"), "\(message)")
    }

    @Test func anIPv6LoopbackControlChannelCarriesMessages() throws {
        let coordinator = SocketLoop(), worker = SocketLoop()
        defer {
            worker.close()
            coordinator.close()
        }
        let endpoint = try coordinator.bindControl("tcp://[::1]:*")
        #expect(endpoint.hasPrefix("tcp://[::1]:"), "\(endpoint)")
        try worker.connectControl(endpoint)
        worker.sendControl([1, 2, 3])
        guard case .item(let frame) = coordinator.control.pop(until: .now + .seconds(10)) else {
            Issue.record("nothing arrived over IPv6")
            return
        }
        #expect(frame.bytes == [1, 2, 3])
    }

    /// Messages without a ring message's shape are dropped and counted; the frame after them
    /// arrives as if they had not been sent.
    @Test func messagesThatAreNotRingMessagesAreCountedAndDropped() throws {
        let receiver = SocketLoop(), sender = SocketLoop()
        defer {
            sender.close()
            receiver.close()
        }
        let endpoint = try receiver.bindRing(host: "127.0.0.1")
        let back = try sender.bindRing(host: "127.0.0.1")
        let context = ZMQContext()
        let stray = try ZMQSocket.connected(context, kind: ZMQ_PUSH, endpoint: Endpoint.parse(endpoint, origin: "test"), origin: "test",
                                            lingerMillis: 1000, highWaterMark: 16, maxMessageBytes: 1 << 20)
        #expect(try stray.trySend([[1, 2, 3], [4, 5]]))  // a 3-byte generation tag
        #expect(try stray.trySend([[UInt8](repeating: 7, count: 8), [1], [2], [3]]))  // four parts
        stray.close()
        context.terminate()
        let link = try ZeroMQRingLink(loop: sender, generation: Generation(3), rank: 0, worldSize: 2, next: endpoint)
        try link.send([42])
        let current = try ZeroMQRingLink(loop: receiver, generation: Generation(3), rank: 1, worldSize: 2, next: back)
        #expect(try current.receive(until: .now + .seconds(10)) == [42])
        // The stray's messages come over another connection than the link's: they may arrive
        // after the frame. Drain the socket until both are counted (bounded).
        let deadline = ContinuousClock.now + .seconds(10)
        while receiver.malformedRingMessages < 2 && ContinuousClock.now < deadline {
            _ = try? current.receive(until: .now + .milliseconds(50))
        }
        #expect(receiver.malformedRingMessages == 2)
    }

    /// A neighbour already in a newer generation ends only this attempt, with its own error; the
    /// frame waits for the next generation's link, which receives it.
    @Test func aFrameOfANewerGenerationSupersedesTheAttempt() throws {
        let receiver = SocketLoop(), sender = SocketLoop()
        defer {
            sender.close()
            receiver.close()
        }
        let endpoint = try receiver.bindRing(host: "127.0.0.1")
        let back = try sender.bindRing(host: "127.0.0.1")
        let newer = try ZeroMQRingLink(loop: sender, generation: Generation(8), rank: 0, worldSize: 2, next: endpoint)
        try newer.send([9, 9, 9])
        let current = try ZeroMQRingLink(loop: receiver, generation: Generation(7), rank: 1, worldSize: 2, next: back)
        #expect(throws: CollectiveError.superseded(generation: 8)) { try current.receive(until: .now + .seconds(10)) }
        let next = try ZeroMQRingLink(loop: receiver, generation: Generation(8), rank: 1, worldSize: 2, next: back)
        #expect(try next.receive(until: .now + .seconds(10)) == [9, 9, 9])
    }
}
