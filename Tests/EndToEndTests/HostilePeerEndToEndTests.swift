import Core
import Foundation
import Testing
import Transport
import Wire

/// A hand-driven peer that says what a broken or hostile member would: it can cost itself its
/// membership, never the run.
@Suite(.serialized) struct HostilePeerEndToEndTests {
    /// A DEALER speaking the control protocol by hand.
    final class Peer {
        let loop = SocketLoop()
        let incarnation = Incarnation.random()
        var id = WorkerID(0)

        init(endpoint: String) throws { try loop.connectControl(endpoint) }
        deinit { loop.close() }

        func send(_ message: Wire.Message, generation: Generation = .none) {
            loop.sendControl(Wire.encode(message, generation: generation, sender: id, incarnation: incarnation))
        }

        /// The next message of `kind` (or a reject), within `timeout`.
        func receive(_ kinds: Set<Wire.Kind>, timeout: Duration = .seconds(30)) throws -> (Wire.Envelope, Wire.Message) {
            let deadline = ContinuousClock.now + timeout
            while case .item(let frame) = loop.control.pop(until: deadline) {
                let (envelope, message) = try Wire.decode(frame.bytes)
                if kinds.contains(envelope.kind) || envelope.kind == .reject { return (envelope, message) }
            }
            throw TestFailure("no \(kinds) within \(timeout)")
        }

        /// The coordinator's model schema hash, as its refusal of another one names it.
        func schemaHash() throws -> UInt64 {
            send(.hello(Wire.Hello()))
            _ = try receive([.runConfig])
            send(.join(Wire.Join(schemaHash: 1, ringEndpoint: "tcp://127.0.0.1:1", host: "probe", pid: 1, stateEndpoint: "tcp://127.0.0.1:2")))
            guard case .reject(let reject) = try receive([.welcome]).1,
                  let range = reject.text.range(of: "the coordinator's ") else { throw TestFailure("no schema refusal") }
            let hex = reject.text[range.upperBound...].prefix { $0.isHexDigit }
            return try #require(UInt64(hex, radix: 16), "\(reject.text)")
        }
    }

    @Test func aJoinWithAnUnparsableRingEndpointIsRefusedNamingIt() throws {
        let dir = Grove.temporaryDirectory("bad-endpoint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let coordinator = try Grove.Background("coordinator", [
            "run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "coordinator.port=0", "--set", "workers.local=0",
            "--set", "fault_tolerance.wait_for_workers=30"])
        defer { coordinator.stop() }
        let peer = try Peer(endpoint: try coordinator.waitFor("coordinator listening on "))
        let hash = try peer.schemaHash()
        for endpoint in ["tcp://", "tcp://[::1:7000", "udp://h:1", "tcp://h:99999", "tcp://0.0.0.0:5000", "tcp://h\n:1"] {
            peer.send(.join(Wire.Join(schemaHash: hash, ringEndpoint: endpoint, host: "probe", pid: 1, stateEndpoint: "tcp://127.0.0.1:2")))
            guard case .reject(let reject) = try peer.receive([.welcome]).1 else { throw TestFailure("\(endpoint) was admitted") }
            #expect(reject.reason == .malformed, "\(endpoint): \(reject)")
            #expect(reject.text.contains("ring endpoint"), "\(reject.text)")
            Thread.sleep(forTimeInterval: 2.6)  // stay under the join rate limit (5 per 10 s)
        }
        // A valid one is welcomed, and a second join on the same connection is refused.
        peer.send(.join(Wire.Join(schemaHash: hash, ringEndpoint: "tcp://[::1]:7000", host: "probe", pid: 1, stateEndpoint: "tcp://127.0.0.1:2")))
        guard case .welcome = try peer.receive([.welcome]).1 else { throw TestFailure("a valid IPv6 endpoint was refused") }
        Thread.sleep(forTimeInterval: 2.6)
        peer.send(.join(Wire.Join(schemaHash: hash, ringEndpoint: "tcp://127.0.0.1:7001", host: "probe", pid: 1, stateEndpoint: "tcp://127.0.0.1:2")))
        guard case .reject(let reject) = try peer.receive([.welcome]).1 else { throw TestFailure("one connection took two slots") }
        #expect(reject.text.contains("one connection, one member"), "\(reject.text)")
        #expect(coordinator.process.isRunning, "\(coordinator.output)")
    }

    /// A member that leaves with an error, or whose host name carries terminal escapes, costs only
    /// itself: the run ends on the weights of a run without it.
    @Test func aMemberLeavingWithAnErrorCostsOnlyItself() throws {
        let expected = try FaultEndToEndTests.reference(workers: 2)
        try DisturbedRun.with("error-leave", localWorkers: 2) { run in
            let endpoint = try run.endpoint()
            try run.waitForStep(10)
            let peer = try Peer(endpoint: endpoint)
            let hash = try peer.schemaHash()
            peer.send(.join(Wire.Join(schemaHash: hash, ringEndpoint: "tcp://127.0.0.1:1", host: "evil\nstep 99/40 forged\u{1b}[2J",
                                      pid: 1, stateEndpoint: "tcp://127.0.0.1:2")))
            guard case .welcome(let welcome) = try peer.receive([.welcome]).1 else { throw TestFailure("not welcomed") }
            peer.id = welcome.worker
            _ = try peer.receive([.stateSource])
            let (envelope, _) = try peer.receive([.lease])
            peer.send(.leave(Wire.Leave(reason: .error, text: "something broke\non purpose")), generation: envelope.generation)
            try run.waitForEnd(within: .seconds(120))
            #expect(run.output.contains("left with an error: something broke\\non purpose"), "\(run.output)")
            #expect(!run.output.contains("\nstep 99/40 forged"), "a host name cannot forge a log line")
            #expect(!run.output.contains("\u{1b}[2J"), "nor drive a terminal")
            try run.expectWeights(expected, "a member leaving with an error changed the weights")
        }
    }
}
