import Core
import Foundation
import Testing
import Transport
import Wire

/// A coordinator refuses workers of another protocol version or another model, naming both.
@Suite(.serialized) struct AdmissionEndToEndTests {
    /// Starts a coordinator that waits for a worker, and a hand-driven DEALER connected to it.
    func withCoordinator(_ body: (SocketLoop) throws -> Void) throws {
        let dir = Grove.temporaryDirectory("admission")
        let coordinator = try Grove.Background("coordinator", [
            "run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "coordinator.port=0",
            "--set", "workers.local=0", "--set", "fault_tolerance.wait_for_workers=30"])
        defer {
            coordinator.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let endpoint = try coordinator.waitFor("coordinator listening on ")
        let loop = SocketLoop()
        defer { loop.close() }
        try loop.connectControl(endpoint)
        try body(loop)
    }

    func receive(_ loop: SocketLoop) throws -> Wire.Message {
        guard case .item(let frame) = loop.control.pop(until: .now + .seconds(20)) else {
            throw TestFailure("the coordinator did not answer")
        }
        return try Wire.decode(frame.bytes).1
    }

    func send(_ loop: SocketLoop, _ message: Wire.Message) {
        loop.sendControl(Wire.encode(message, generation: .none, sender: WorkerID(0), incarnation: Incarnation(7)))
    }

    @Test func anotherModelSchemaIsRefusedNamingBoth() throws {
        try withCoordinator { loop in
            send(loop, .hello(Wire.Hello()))
            guard case .runConfig(let config) = try receive(loop) else { throw TestFailure("expected the run's configuration") }
            #expect(config.configYAML.contains("canopy-net"))
            send(loop, .join(Wire.Join(schemaHash: 0xDEAD_BEEF, ringEndpoint: "tcp://127.0.0.1:1", host: "test", pid: 1,
                                       stateEndpoint: "tcp://127.0.0.1:2")))
            guard case .reject(let reject) = try receive(loop) else { throw TestFailure("expected a reject") }
            #expect(reject.reason == .modelSchema)
            #expect(reject.text.contains("deadbeef"), "names the worker's schema: \(reject.text)")
            #expect(reject.text.contains("canopy-net"), "names the coordinator's model: \(reject.text)")
        }
    }

    /// A worker of protocol 1.1 would drop the three-part ring frames of this build's workers.
    @Test func aWorkerThatCannotReadTheRingIsRefused() throws {
        try withCoordinator { loop in
            send(loop, .hello(Wire.Hello(minor: 1)))
            guard case .runConfig = try receive(loop) else { throw TestFailure("expected the run's configuration") }
            send(loop, .join(Wire.Join(minor: 1, schemaHash: 0xDEAD_BEEF, ringEndpoint: "tcp://127.0.0.1:1", host: "test", pid: 1)))
            guard case .reject(let reject) = try receive(loop) else { throw TestFailure("expected a reject") }
            #expect(reject.reason == .protocolVersion)
            #expect(reject.text.contains("1.1") && reject.text.contains("1.\(Wire.ringMinor)"), "\(reject.text)")
        }
    }

    @Test func anotherMajorVersionIsRefusedNamingBoth() throws {
        try withCoordinator { loop in
            var frame = Wire.encode(.hello(Wire.Hello(major: 2, minor: 0)), generation: .none, sender: WorkerID(0), incarnation: Incarnation(7))
            frame[4] = 2  // the envelope's major version
            frame[5] = 0  // and minor
            loop.sendControl(frame)
            guard case .reject(let reject) = try receive(loop) else { throw TestFailure("expected a reject") }
            #expect(reject.reason == .protocolVersion)
            #expect(reject.text.contains("2.0") && reject.text.contains("1.\(Wire.minor)"), "\(reject.text)")
        }
    }
}
